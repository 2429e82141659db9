-- Foundation: incidents, the one append-only event log, idempotency keys, jobs and leases.

CREATE TABLE incidents (
  id              bigserial PRIMARY KEY,
  title           text NOT NULL,
  severity        text NOT NULL CHECK (severity IN ('P0','P1','P2','P3','P4')),
  status          text NOT NULL DEFAULT 'investigating'
                  CHECK (status IN ('investigating','identified','monitoring','resolved')),
  summary         text,
  service         text,
  declared_by     text NOT NULL,
  commander       text,
  comms_lead      text,
  tech_lead       text,
  channel_id      text,
  channel_name    text,
  headline_ts     text,
  -- Steps of the declare flow that failed (e.g. {"invite": "user_not_found"}): kept, not lost.
  setup_errors    jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Idempotency key of the request that declared it (Slack trigger, alert group): one incident per key.
  declare_key     text UNIQUE,
  declared_at     timestamptz NOT NULL,
  acknowledged_at timestamptz,
  identified_at   timestamptz,
  mitigated_at    timestamptz,
  resolved_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incidents_open ON incidents (status) WHERE status <> 'resolved';
CREATE UNIQUE INDEX incidents_channel ON incidents (channel_id) WHERE channel_id IS NOT NULL;

-- One append-only, hash-chained log of everything that happened: it feeds incident
-- timelines, post-mortems and the audit log. Each row's hash is
-- SHA-256(prev_hash || canonical JSON of the row), so edits and deletions are detectable.
CREATE TABLE events (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL,
  actor       text NOT NULL,
  type        text NOT NULL,
  incident_id bigint REFERENCES incidents(id),
  subject     text,
  payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash   text NOT NULL,
  hash        text NOT NULL UNIQUE
);
CREATE INDEX events_incident ON events (incident_id, id) WHERE incident_id IS NOT NULL;
CREATE INDEX events_type ON events (type, id);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- The incident timeline as the foundation issue names it: a view over the one event log.
CREATE VIEW incident_events AS
  SELECT id, incident_id, at, actor, type, payload FROM events WHERE incident_id IS NOT NULL;

-- Idempotency keys for Slack retries, double submissions and webhook re-deliveries.
CREATE TABLE processed_requests (
  key        text PRIMARY KEY,
  result     jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Durable work: reminders, background jobs, scheduled runs. Claimed with SKIP LOCKED.
CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  queue        text NOT NULL,
  dedupe_key   text UNIQUE,
  payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
  run_at       timestamptz NOT NULL,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','done','failed','cancelled')),
  attempts     int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 5,
  locked_by    text,
  locked_until timestamptz,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('pending','running');

-- Named leases: which replica leads a schedule, with expiry so a dead leader is replaced.
CREATE TABLE leases (
  name       text PRIMARY KEY,
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL
);
