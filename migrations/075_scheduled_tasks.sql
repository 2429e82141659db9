-- When each scheduled task was first seen by a scheduler (src/jobs/scheduler.ts). A slot from
-- before a schedule existed never had a chance to run: it is not caught up, and watches that
-- alert on missing runs (backup staleness, overdue drills) count from this time.
CREATE TABLE scheduled_tasks (
  name text PRIMARY KEY,
  first_seen_at timestamptz NOT NULL
);
