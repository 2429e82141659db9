-- Point-in-time recovery through pgBackRest (issue 16). pgBackRest's own repository is the
-- truth about which physical backups exist (`pgbackrest info`); this table records what
-- Firebreak ran: who asked, when, how it ended. A backup killed midway stays 'failed' or
-- 'interrupted' here and never appears as good, because only `info` lists backups.
CREATE TABLE pitr_runs (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('backup', 'drill', 'recovery', 'expire', 'verify')),
  detail text NOT NULL,
  repo int,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  requested_by text NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  error text,
  result jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX pitr_runs_recent ON pitr_runs (kind, started_at DESC);

-- One row per open problem (archiving failing, RPO over target, stale backup, repository
-- unreachable): the alert goes out when the row is made, never again while it is open, and
-- the row closes when the problem clears. `first_seen_at` starts the "for N minutes" clock.
CREATE TABLE pitr_problems (
  key text PRIMARY KEY,
  first_seen_at timestamptz NOT NULL,
  alerted_at timestamptz,
  detail text NOT NULL
);
