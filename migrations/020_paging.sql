-- Paging: one row per (incident, service) paged through PagerDuty. The dedup key is fixed at
-- insert so every retry, the Retry paging button and the resolve name the same alert.
CREATE TABLE pages (
  id               bigserial PRIMARY KEY,
  incident_id      bigint NOT NULL REFERENCES incidents(id),
  service          text NOT NULL,
  -- Name of the env var the routing key came from; the key itself is a secret and never stored.
  routing_key_env  text NOT NULL,
  dedup_key        text NOT NULL CHECK (length(dedup_key) <= 255),
  status           text NOT NULL CHECK (status IN ('pending','triggered','failed','resolved','resolve_failed')),
  attempts         int NOT NULL DEFAULT 0,
  last_error       text,
  -- Learned from webhooks (incident.triggered / acknowledged): maps PagerDuty back to us.
  pd_incident_id   text,
  pd_incident_url  text,
  requested_by     text NOT NULL,
  reason           text NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  triggered_at     timestamptz,
  resolved_at      timestamptz,
  UNIQUE (incident_id, service)
);
CREATE INDEX pages_dedup_key ON pages (dedup_key);
CREATE INDEX pages_pd_incident ON pages (pd_incident_id) WHERE pd_incident_id IS NOT NULL;
