import { withTransaction } from '../db/pool.js';
import { appendEvent } from '../events/log.js';
import { followupRef, type Followup, type FollowupSource } from './model.js';
import * as store from './store.js';
import { EXPORT_ATTEMPTS, EXPORT_QUEUE, exportKey, type FollowupDeps } from './deps.js';

export interface RecordInput {
  incidentId: number;
  title: string;
  ownerUserId?: string;
  ownerLabel?: string;
  dueOn?: string;
  source: FollowupSource;
  sourceEventId?: number;
  requestKey?: string;
  actor: string;
}

/**
 * Records a follow-up once (per note event, per chat request), with its timeline event and,
 * when a tracker is configured, its export job, all in one transaction: a follow-up is never
 * left without the job that exports it.
 */
export async function recordFollowup(d: FollowupDeps, input: RecordInput): Promise<{ followup: Followup; created: boolean }> {
  const now = d.clock.now();
  const tracker = d.config.tracker === 'none' ? null : d.config.tracker;
  return withTransaction(d.pool, async (tx) => {
    const out = await store.insertFollowup(tx, {
      incidentId: input.incidentId, title: input.title, ownerUserId: input.ownerUserId, ownerLabel: input.ownerLabel, dueOn: input.dueOn,
      source: input.source, sourceEventId: input.sourceEventId, requestKey: input.requestKey, createdBy: input.actor, createdAt: now, tracker,
    });
    if (!out.created) return out;
    const f = out.followup;
    await appendEvent(tx, {
      type: 'followup.created', actor: input.actor, at: now, incidentId: f.incidentId,
      payload: { followupId: f.id, source: f.source, text: `Follow-up ${followupRef(f.id)}: ${f.title}`, ...(f.ownerUserId ? { owner: f.ownerUserId } : {}), ...(f.ownerLabel ? { ownerLabel: f.ownerLabel } : {}), ...(f.dueOn ? { due: f.dueOn } : {}) },
    });
    if (tracker) await d.jobs.enqueue(EXPORT_QUEUE, { followupId: f.id }, { runAt: now, dedupeKey: exportKey(f.id), maxAttempts: EXPORT_ATTEMPTS }, tx);
    return out;
  });
}
