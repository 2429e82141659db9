import type { Job } from '../jobs/queue.js';
import { appendEvent } from '../events/log.js';
import { followupRef } from './model.js';
import * as store from './store.js';
import { EXPORT_ATTEMPTS, type FollowupDeps } from './deps.js';
import { TrackerError } from './tracker.js';
import { closeFromTracker } from './tracker-state.js';

/**
 * The export job: makes the follow-up's issue in the tracker, once. It looks first (the
 * issue's marker), so an attempt whose reply was lost finds the issue it made instead of
 * making a second. A tracker that is down leaves the follow-up `pending` with the reason and
 * the job retries with back-off; when it gives up (or the tracker refuses) it is `failed`
 * with the reason, and the poll rearms it later. Nothing is lost either way.
 */
export async function exportFollowup(d: FollowupDeps, job: Job): Promise<void> {
  const id = Number((job.payload as { followupId?: unknown }).followupId);
  const f = await store.getFollowup(d.pool, id);
  if (!f || f.exportState === 'exported' || !f.tracker) return;
  const tracker = d.trackers[f.tracker];
  if (!tracker) {
    await store.recordExportError(d.pool, id, `followups.tracker is no longer ${f.tracker}; not exported`, true);
    return;
  }
  try {
    let issue = await tracker.find(f);
    if (!issue) {
      const incident = await d.incidents.get(f.incidentId);
      if (!incident) throw new TrackerError(`INC-${f.incidentId} is missing`, false);
      issue = await tracker.create(f, await d.messages.issueText(f, incident));
    }
    const now = d.clock.now();
    const saved = await store.recordExported(d.pool, id, issue.key, issue.url);
    await appendEvent(d.pool, {
      type: 'followup.exported', actor: 'firebreak', at: now, incidentId: f.incidentId,
      payload: { followupId: id, tracker: f.tracker, key: issue.key, url: issue.url, text: `Follow-up ${followupRef(id)} exported to ${f.tracker}: ${issue.key}` },
    });
    // Someone closed it before the reply reached us: the follow-up follows.
    if (issue.closed && saved) await closeFromTracker(d, saved, 'export');
  } catch (err) {
    const retrying = err instanceof TrackerError && err.retryable && job.attempts < EXPORT_ATTEMPTS;
    const message = err instanceof Error ? err.message : String(err);
    await store.recordExportError(d.pool, id, message, !retrying);
    d.log.warn({ followupId: id, tracker: f.tracker, attempt: job.attempts, err: message }, retrying ? 'follow-up export failed; retrying' : 'follow-up export failed; the poll retries it later');
    if (retrying) throw err;
  }
}
