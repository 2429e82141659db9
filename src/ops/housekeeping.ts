import type { Queryable } from '../db/pool.js';
import type { Clock } from '../clock.js';

/**
 * Deletes idempotency keys and finished jobs older than `keepDays`. The newest job of each
 * scheduled task is kept whatever its age: the scheduler reads it to tell a missed slot
 * from a task that never ran (a monthly drill's last run is older than two weeks).
 */
export async function runHousekeeping(db: Queryable, clock: Clock, keepDays: number): Promise<{ requestsDeleted: number; jobsDeleted: number }> {
  const cutoff = new Date(clock.now().getTime() - keepDays * 86_400_000);
  const requests = await db.query('DELETE FROM processed_requests WHERE created_at < $1', [cutoff]);
  const jobs = await db.query(
    `DELETE FROM jobs j
      WHERE j.status IN ('done','failed','cancelled') AND j.finished_at < $1
        AND NOT (j.queue = 'schedule' AND j.id = (
          SELECT max(k.id) FROM jobs k WHERE k.queue = 'schedule' AND k.payload->>'task' = j.payload->>'task'))`,
    [cutoff],
  );
  return { requestsDeleted: requests.rowCount ?? 0, jobsDeleted: jobs.rowCount ?? 0 };
}
