import { withTransaction } from '../db/pool.js';
import { appendEvent } from '../events/log.js';
import { EXPORT_ATTEMPTS, EXPORT_QUEUE, exportKey, type FollowupDeps } from './deps.js';
import { followupRef, type Followup, type TrackerKind } from './model.js';
import * as store from './store.js';

/** Who closes a follow-up whose issue was closed in the tracker. */
export const CLOSED_BY_TRACKER = 'tracker';

/** Marks the follow-up done because its issue is closed; false when it was not open. */
export async function closeFromTracker(d: FollowupDeps, f: Followup, via: 'webhook' | 'poll' | 'export', trackerAt: Date | null = null): Promise<boolean> {
  const now = d.clock.now();
  return withTransaction(d.pool, async (tx) => {
    const closed = await store.closeFollowup(tx, f.id, 'done', CLOSED_BY_TRACKER, now, trackerAt);
    if (!closed) return false;
    await appendEvent(tx, {
      type: 'followup.closed', actor: `${f.tracker ?? 'tracker'}:${f.trackerKey ?? ''}`, at: now, incidentId: f.incidentId,
      payload: { followupId: f.id, closedBy: CLOSED_BY_TRACKER, tracker: f.tracker, key: f.trackerKey, via, text: `Follow-up ${followupRef(f.id)} done: ${f.trackerKey} closed in ${f.tracker}` },
    });
    return true;
  });
}

async function reopenFromTracker(d: FollowupDeps, f: Followup, via: 'webhook' | 'poll', trackerAt: Date | null): Promise<boolean> {
  const now = d.clock.now();
  return withTransaction(d.pool, async (tx) => {
    const opened = await store.reopenFollowup(tx, f.id, trackerAt);
    if (!opened) return false;
    await appendEvent(tx, {
      type: 'followup.reopened', actor: `${f.tracker ?? 'tracker'}:${f.trackerKey ?? ''}`, at: now, incidentId: f.incidentId,
      payload: { followupId: f.id, tracker: f.tracker, key: f.trackerKey, via, text: `Follow-up ${followupRef(f.id)} open again: ${f.trackerKey} reopened in ${f.tracker}` },
    });
    return true;
  });
}

export type StateOutcome = 'closed' | 'reopened' | 'unchanged' | 'unknown';

/** An issue's state as the tracker reports it, dated by the tracker's clock when it says. */
export interface IssueState {
  closed: boolean;
  at?: Date;
}

/**
 * An issue's state as the tracker reports it (webhook or poll). Idempotent: a redelivered
 * event finds the follow-up already in that state and changes nothing, and an event older than
 * the last state applied (a replayed signed body, a late redelivery) changes nothing either.
 */
export async function applyTrackerState(d: FollowupDeps, tracker: TrackerKind, key: string, state: IssueState, via: 'webhook' | 'poll'): Promise<StateOutcome> {
  const f = await store.byTrackerKey(d.pool, tracker, key);
  if (!f) return 'unknown';
  const at = state.at ?? null;
  if (state.closed && f.status === 'open') return (await closeFromTracker(d, f, via, at)) ? 'closed' : 'unchanged';
  if (!state.closed && f.status === 'done') return (await reopenFromTracker(d, f, via, at)) ? 'reopened' : 'unchanged';
  if (at) await store.noteTrackerStateAt(d.pool, f.id, at);
  return 'unchanged';
}

/**
 * The periodic poll (once per slot across replicas): reads back each open exported
 * follow-up's issue, in case a webhook was lost or none is configured, and rearms exports
 * that gave up. A tracker that is down is logged and tried again at the next slot.
 */
export async function pollTrackers(d: FollowupDeps): Promise<{ closed: number; rearmed: number; errors: number }> {
  const now = d.clock.now();
  let closed = 0;
  let errors = 0;
  let rearmed = 0;
  for (const f of await store.listUnexported(d.pool)) {
    if (f.exportState !== 'failed' || !f.tracker || !d.trackers[f.tracker]) continue;
    if ((await d.jobs.rearm(EXPORT_QUEUE, { followupId: f.id }, { runAt: now, dedupeKey: exportKey(f.id), maxAttempts: EXPORT_ATTEMPTS })) !== null) {
      await store.markExportPending(d.pool, f.id, f.tracker);
      rearmed++;
    }
  }
  for (const [kind, tracker] of Object.entries(d.trackers) as [TrackerKind, NonNullable<FollowupDeps['trackers'][TrackerKind]>][]) {
    for (const f of await store.listOpenExported(d.pool, kind)) {
      try {
        const issue = await tracker.state(f.trackerKey!);
        if (issue?.closed && (await applyTrackerState(d, kind, f.trackerKey!, { closed: true, ...(issue.updatedAt ? { at: issue.updatedAt } : {}) }, 'poll')) === 'closed') closed++;
      } catch (err) {
        errors++;
        d.log.warn({ followupId: f.id, tracker: kind, err: (err as Error).message }, 'could not read a follow-up issue; trying again at the next poll');
      }
    }
  }
  return { closed, rearmed, errors };
}
