import type { ActionHandler, ViewHandler } from '../chat/interactions.js';
import type { IncidentService } from '../incidents/service.js';
import type { FollowupService } from '../followups/service.js';
import { isDate, MAX_TITLE } from '../followups/model.js';
import { addFollowupModal } from '../templates/followups.js';
import { notMemberAnswer } from '../templates/incidents.js';
import { escapeMrkdwn } from '../templates/blocks.js';

/** The Add follow-up button: people who may act on the incident get the modal. Resolved incidents too: that is when follow-ups are written. */
export function addFollowupAction(incidents: IncidentService): ActionHandler {
  return async (inv, ctx) => {
    const i = /^\d{1,15}$/.test(inv.value) ? await incidents.get(Number(inv.value)) : undefined;
    if (!i) return ctx.reply.ephemeral(`That button belongs to an incident I can't find (${escapeMrkdwn(inv.value)}).`);
    if (i.channelId && inv.channelId !== i.channelId && !(await incidents.isMember(i, inv.actor.userId))) return ctx.reply.ephemeral(notMemberAnswer(i));
    if (!inv.triggerId) return ctx.reply.ephemeral(`Use \`/incident followup add ${i.id} …\` instead.`);
    await ctx.reply.openModal(addFollowupModal(i, inv.channelId));
  };
}

/** The modal's submission: checked again (the metadata is ours, the person may have lost access), recorded once per submission. */
export function addFollowupView(followups: FollowupService, incidents: IncidentService): ViewHandler {
  return async (sub) => {
    let meta: { incidentId?: unknown; channelId?: unknown } = {};
    try {
      meta = JSON.parse(sub.privateMetadata || '{}') as typeof meta;
    } catch {
      meta = {};
    }
    const i = typeof meta.incidentId === 'number' ? await incidents.get(meta.incidentId) : undefined;
    if (!i) return { title: 'This incident no longer exists.' };
    const user = sub.actor.userId;
    if (i.channelId && !(await incidents.isMember(i, user))) return { title: `Join the incident channel to add follow-ups to INC-${i.id}.` };
    const title = (sub.values.title ?? '').trim();
    const owner = sub.values.owner?.trim() || undefined;
    const due = sub.values.due?.trim() || undefined;
    const errors: Record<string, string> = {};
    if (!title) errors.title = 'Say what needs doing.';
    else if (title.length > MAX_TITLE) errors.title = `Keep it under ${MAX_TITLE} characters.`;
    if (owner && !/^[UW][A-Z0-9]{2,}$/.test(owner)) errors.owner = 'Pick a person.';
    if (due && !isDate(due)) errors.due = 'Pick a date.';
    if (Object.keys(errors).length) return errors;
    const out = await followups.record({ incidentId: i.id, title, ownerUserId: owner, dueOn: due, source: 'button', requestKey: sub.requestKey, actor: user });
    const channelId = typeof meta.channelId === 'string' ? meta.channelId : i.channelId;
    await followups.messages.tell(user, channelId, followups.messages.recorded(out.followup, out.created));
  };
}
