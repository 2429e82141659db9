import { escapeMrkdwn } from '../templates/blocks.js';
import type { ActionHandler, ActionInvocation, ChatEvent, EventHandler, InteractionContext, ViewHandler } from '../chat/interactions.js';
import type { ChangeOutcome, IncidentService } from '../incidents/service.js';
import type { ChatSurface, ChatMessage } from '../chat/surface.js';
import { parseSeverity, type Incident } from '../incidents/model.js';
import { duplicateReply, notMemberAnswer, resolveModal, resolvedAnswer, updateModal } from '../templates/incidents.js';
import { MAX_TITLE } from '../commands/incident.js';

/** Answers a modal's submitter where they opened it, or by DM when we don't know where. */
async function tell(chat: ChatSurface, user: string, channelId: string | undefined, msg: ChatMessage): Promise<void> {
  if (channelId) {
    try {
      return await chat.postEphemeral(channelId, user, msg);
    } catch {
      /* the bot may not be in that channel: fall back to a DM */
    }
  }
  await chat.postDirect(user, msg);
}

export function declareViewHandler(incidents: IncidentService): ViewHandler {
  return async (sub, ctx) => {
    const title = (sub.values.title ?? '').trim();
    const severity = parseSeverity(sub.values.severity);
    const errors: Record<string, string> = {};
    if (!title) errors.title = 'Give the incident a short title.';
    else if (title.length > MAX_TITLE) errors.title = `Keep the title under ${MAX_TITLE} characters.`;
    if (!severity) errors.severity = 'Pick a severity from P0 to P4.';
    if (Object.keys(errors).length) return errors;
    let channelId: string | undefined;
    try {
      channelId = (JSON.parse(sub.privateMetadata || '{}') as { channelId?: string }).channelId;
    } catch {
      channelId = undefined;
    }
    const user = sub.actor.userId;
    // Recorded with its setup job before the modal is answered; the job tells the declarer.
    const out = await incidents.declare({
      title, severity: severity!, actor: user, requestKey: sub.requestKey,
      summary: sub.values.summary?.trim() || undefined, service: sub.values.service?.trim() || undefined,
      notify: { userId: user, channelId },
    });
    if (out.status === 'duplicate') ctx.background('tell duplicate', () => tell(ctx.chat, user, channelId, duplicateReply(out.incident)));
  };
}

function incidentIdFrom(privateMetadata: string): number | undefined {
  try {
    const id = (JSON.parse(privateMetadata || '{}') as { incidentId?: unknown }).incidentId;
    return typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The headline's buttons. Same rules as the subcommands: people in the channel may act,
 * a resolved incident says so.
 */
async function buttonTarget(incidents: IncidentService, inv: ActionInvocation, ctx: InteractionContext): Promise<Incident | undefined> {
  const i = await incidents.get(Number(inv.value));
  if (!i) {
    await ctx.reply.ephemeral(`That button belongs to an incident I can't find (${escapeMrkdwn(inv.value)}).`);
    return undefined;
  }
  const user = inv.actor.userId;
  const inChannel = !!i.channelId && inv.channelId === i.channelId;
  // The headline lives in the incident channel, so clicking it there counts like typing there.
  if (inChannel) await incidents.noteMember(i, user, 'acted in channel');
  else if (i.channelId && !(await incidents.isMember(i, user))) {
    await ctx.reply.ephemeral(notMemberAnswer(i));
    return undefined;
  }
  if (i.status === 'resolved') {
    await ctx.reply.ephemeral(resolvedAnswer(i, 'that button'));
    return undefined;
  }
  return i;
}

async function tellOutcome(ctx: InteractionContext, out: ChangeOutcome): Promise<void> {
  if (!out.ok) return ctx.reply.ephemeral(out.message);
  if (out.problems.length) await ctx.reply.ephemeral(`Saved, but some chat steps failed:\n${out.problems.map((p) => `• ${escapeMrkdwn(p)}`).join('\n')}`);
}

export function incidentActionHandlers(incidents: IncidentService): Record<string, ActionHandler> {
  return {
    'incident.take_command': async (inv, ctx) => {
      const i = await buttonTarget(incidents, inv, ctx);
      if (i) await tellOutcome(ctx, await incidents.assignRole(i.id, inv.actor.userId, 'commander', inv.actor.userId, inv.requestKey));
    },
    'incident.post_update': async (inv, ctx) => {
      const i = await buttonTarget(incidents, inv, ctx);
      if (i) await ctx.reply.openModal(updateModal(i, await incidents.editableDraft('internal', i)));
    },
    'incident.resolve': async (inv, ctx) => {
      const i = await buttonTarget(incidents, inv, ctx);
      if (i) await ctx.reply.openModal(resolveModal(i));
    },
  };
}

export function incidentViewHandlers(incidents: IncidentService): Record<string, ViewHandler> {
  return {
    'incident.update': async (sub, ctx) => {
      const id = incidentIdFrom(sub.privateMetadata);
      const text = (sub.values.text ?? '').trim();
      if (!text) return { text: 'Write the update, or cancel.' };
      if (text.length > 2800) return { text: 'Keep the update under 2800 characters.' };
      const i = id === undefined ? undefined : await incidents.get(id);
      if (!i) return { text: 'This incident no longer exists.' };
      if (i.status === 'resolved') return { text: `INC-${i.id} was resolved meanwhile; reopen it to post updates.` };
      // Stored as the equivalent command before the modal is answered; it runs from the job queue.
      await ctx.runAsCommand('/incident', `update INC-${i.id} ${text}`, i.channelId ?? '');
    },
    'incident.resolve': async (sub, ctx) => {
      const id = incidentIdFrom(sub.privateMetadata);
      const i = id === undefined ? undefined : await incidents.get(id);
      if (!i) return { summary: 'This incident no longer exists.' };
      if (i.status === 'resolved') return { summary: `INC-${i.id} is already resolved.` };
      const summary = (sub.values.summary ?? '').trim() || undefined;
      // Stored as the equivalent command before the modal is answered (resolving uploads the
      // post-mortem: slower than Slack's 3 s); it runs from the job queue.
      await ctx.runAsCommand('/incident', `resolve INC-${i.id}${summary ? ` ${summary}` : ''}`, i.channelId ?? '');
    },
  };
}

/**
 * Pins and :pushpin: reactions become timeline entries; joins make people members. They run
 * inside the event's durable job (src/chat/router.ts), so they are awaited here.
 */
export function incidentEventHandlers(incidents: IncidentService): Partial<Record<ChatEvent['type'], EventHandler>> {
  return {
    pin_added: async (ev) => {
      if (!ev.messageTs) return;
      await incidents.recordPin({ channelId: ev.channelId, messageTs: ev.messageTs, actor: ev.actor.userId, text: ev.text, via: 'pin' });
    },
    reaction_added: async (ev) => {
      if (!ev.messageTs || !/^(pushpin|round_pushpin)$/.test(ev.reaction ?? '')) return;
      // reaction_added carries no text: the service reads the message.
      await incidents.recordPin({ channelId: ev.channelId, messageTs: ev.messageTs, actor: ev.actor.userId, via: 'reaction' });
    },
    member_joined_channel: async (ev) => {
      const i = await incidents.byChannel(ev.channelId);
      if (i) await incidents.noteMember(i, ev.actor.userId, 'joined');
    },
  };
}
