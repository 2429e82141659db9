/**
 * Slack side of the status page: the buttons open the publish form, the form's answer becomes
 * a durable job that asks the change gate (any replica, retried), which answers the person.
 * Thin: parse, call, render.
 */
import type { ActionHandler, ReplyAddress, ReplyFactory, ViewHandler } from '../chat/interactions.js';
import type { Job, JobQueue } from '../jobs/queue.js';
import type { Clock } from '../clock.js';
import { REQUEST_QUEUE, type StatusPageService } from '../statuspage/service.js';
import type { PublishInput } from '../statuspage/publish.js';
import {
  COMPONENT_BLOCK, OPEN_PUBLISH_ACTION, OPEN_RESOLVED_ACTION, STATUSPAGE_MODAL, componentsFromForm, publishModal, publishOutcomeText, statusPageReplies,
  type PublishModalData,
} from '../templates/statuspage.js';

interface RequestJob {
  input: PublishInput;
  reply: ReplyAddress;
}

export function statusPageHandlers(d: {
  statusPage: StatusPageService;
  components: { id: string; name: string; group?: string }[];
  jobs: JobQueue;
  replies: ReplyFactory;
  clock: Clock;
}): { actions: Record<string, ActionHandler>; views: Record<string, ViewHandler>; jobs: Record<string, (job: Job) => Promise<void>> } {
  const known = new Set(d.components.map((c) => c.id));

  const open = (resolving: boolean): ActionHandler => async (inv, ctx) => {
    if (!d.statusPage.enabled) return ctx.reply.ephemeral(statusPageReplies.off);
    const id = /^\d{1,15}$/.test(inv.value) ? Number(inv.value) : 0;
    const draft = await d.statusPage.draft(id, resolving);
    if (!draft) return ctx.reply.ephemeral(statusPageReplies.noIncident(inv.value));
    if (!(await d.statusPage.mayPublish(draft.incident, inv.actor.userId))) return ctx.reply.ephemeral(statusPageReplies.notMember(id));
    await ctx.reply.openModal(publishModal({ incidentId: id, ...(inv.channelId ? { channelId: inv.channelId } : {}), ...draft, components: d.components }));
  };

  const submit: ViewHandler = async (sub) => {
    let data: PublishModalData;
    try {
      data = JSON.parse(sub.privateMetadata) as PublishModalData;
    } catch {
      return { body: 'This form is from an older version of Firebreak; close it and open it again.' };
    }
    if (!Number.isInteger(data.incidentId)) return { body: 'This form lost its incident; close it and open it again.' };
    // A component removed from the configuration while the form was open: say so on its field.
    for (const block of Object.keys(sub.values)) {
      const id = block.slice(COMPONENT_BLOCK.length);
      if (block.startsWith(COMPONENT_BLOCK) && !known.has(id)) return { [block]: `There is no component "${id}" on the status page any more; close the form and open it again.` };
    }
    const input: PublishInput = {
      requestKey: `view:${sub.requestKey}`, actor: sub.actor.userId, incidentId: data.incidentId, ...(data.channelId ? { channelId: data.channelId } : {}),
      title: sub.values.title ?? '', status: sub.values.status ?? '', body: sub.values.body ?? '', components: componentsFromForm(sub.values),
    };
    const errors = d.statusPage.validate(input);
    if (Object.keys(errors).length) {
      const { components: bad, ...fields } = errors;
      const firstComponent = Object.keys(sub.values).find((b) => b.startsWith(COMPONENT_BLOCK));
      return { ...fields, ...(bad ? { [firstComponent ?? 'body']: bad } : {}) };
    }
    const job: RequestJob = { input, reply: { userId: sub.actor.userId, ...(data.channelId ? { channelId: data.channelId } : {}) } };
    // The form closes now; the gate is asked from the job (any replica, retried), which answers the person.
    await d.jobs.enqueue(REQUEST_QUEUE, job as unknown as Record<string, unknown>, { runAt: d.clock.now(), dedupeKey: input.requestKey, maxAttempts: 5 });
  };

  const runRequest = async (job: Job) => {
    const p = job.payload as unknown as RequestJob;
    const out = await d.statusPage.requestPublish(p.input);
    await d.replies(p.reply).ephemeral(out.status === 'invalid' ? statusPageReplies.invalid(out.errors) : publishOutcomeText(out.gate));
  };

  return {
    actions: { [OPEN_PUBLISH_ACTION]: open(false), [OPEN_RESOLVED_ACTION]: open(true) },
    views: { [STATUSPAGE_MODAL]: submit },
    jobs: { [REQUEST_QUEUE]: runRequest },
  };
}
