-- Disaster-recovery drills and recoveries: one row per run, its ten steps as they happened,
-- and the measured RTO/RPO against the targets in force at the time.
CREATE TABLE dr_runs (
  id                  bigserial PRIMARY KEY,
  kind                text NOT NULL CHECK (kind IN ('dry-run','execute')),
  trigger             text NOT NULL DEFAULT 'command' CHECK (trigger IN ('command','schedule')),
  backup_id           text,
  database            text,
  requester           text NOT NULL,
  approvers           text[] NOT NULL DEFAULT '{}',
  change_request_id   bigint,
  -- The scratch database (dry run, always firebreak_dr_<id>) or the recovery target (execute).
  target_database     text,
  status              text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running','passed','failed','cancelled','interrupted')),
  steps               jsonb NOT NULL DEFAULT '[]'::jsonb,
  rto_ms              bigint,
  rpo_ms              bigint,
  targets             jsonb NOT NULL,
  error               text,
  channel_id          text,
  message_ts          text,
  thread_ts           text,
  replica_id          text NOT NULL,
  -- A cancel asked on another replica: the running replica polls this and aborts.
  cancel_requested_by text,
  cancel_requested_at timestamptz,
  started_at          timestamptz NOT NULL,
  finished_at         timestamptz
);
CREATE INDEX dr_runs_recent ON dr_runs (started_at DESC, id DESC);
-- Belt and braces under the advisory lock: never two runs marked running.
CREATE UNIQUE INDEX dr_runs_one_running ON dr_runs ((true)) WHERE status = 'running';
