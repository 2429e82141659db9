/**
 * Slack side of `/config propose`: the modal's YAML is validated while the modal is open
 * (problems shown on the field, nothing stored); a valid one becomes a durable job that records
 * the version and asks the change gate (any replica, retried), which answers the person.
 */
import type { ReplyAddress, ReplyFactory, ViewHandler } from '../chat/interactions.js';
import type { Job, JobQueue } from '../jobs/queue.js';
import type { Clock } from '../clock.js';
import { PROPOSE_QUEUE, type ConfigVersions } from '../configversions/service.js';
import { CONFIG_PROPOSE_MODAL, YAML_BLOCK, proposeOutcomeText } from '../templates/configversions.js';
import { escapeMrkdwn } from '../templates/blocks.js';

/** A proposal to open: text from the modal (recorded by the job), or a version the CLI recorded. */
export interface ProposeJob {
  text?: string;
  versionId?: number;
  author: string;
  commit?: string;
  requestKey: string;
  reply?: ReplyAddress;
}

export function configHandlers(d: { versions: ConfigVersions; jobs: JobQueue; replies: ReplyFactory; clock: Clock }): { views: Record<string, ViewHandler>; jobs: Record<string, (job: Job) => Promise<void>> } {
  const submit: ViewHandler = async (sub) => {
    let meta: { channelId?: string } = {};
    try {
      meta = JSON.parse(sub.privateMetadata || '{}') as { channelId?: string };
    } catch {
      return { [YAML_BLOCK]: 'This form is from an older version of Firebreak; close it and open it again.' };
    }
    const text = sub.values[YAML_BLOCK] ?? '';
    const problems = await d.versions.problemsWith(text);
    if (problems.length) return { [YAML_BLOCK]: `Refused, nothing changed: ${problems.join('; ')}`.slice(0, 1900) };
    const job: ProposeJob = {
      text, author: sub.actor.userId, requestKey: `view:${sub.requestKey}`,
      reply: { userId: sub.actor.userId, ...(typeof meta.channelId === 'string' ? { channelId: meta.channelId } : {}) },
    };
    await d.jobs.enqueue(PROPOSE_QUEUE, job as unknown as Record<string, unknown>, { runAt: d.clock.now(), dedupeKey: job.requestKey, maxAttempts: 5 });
  };

  const runPropose = async (job: Job) => {
    const p = job.payload as unknown as ProposeJob;
    const requester = { userId: p.author, ...(p.reply?.channelId ? { channelId: p.reply.channelId } : {}) };
    if (p.versionId !== undefined) {
      // Recorded by the CLI, which has no chat: only the change request is left to open.
      await d.versions.requestApproval(Number(p.versionId), requester, p.requestKey);
      return;
    }
    const out = await d.versions.propose(p.text ?? '', { author: p.author, source: 'slack', ...(p.commit ? { commit: p.commit } : {}) }, requester, p.requestKey);
    if (p.reply) await d.replies(p.reply).ephemeral(escapeMrkdwn(proposeOutcomeText(out)));
  };

  return { views: { [CONFIG_PROPOSE_MODAL]: submit }, jobs: { [PROPOSE_QUEUE]: runPropose } };
}
