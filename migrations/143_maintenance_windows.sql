-- Maintenance windows (/alerts maintenance): while one is open its matching alerts are silenced
-- at the source, auto-declare and escalation skip them, and their group messages carry a banner.
CREATE TABLE maintenance_windows (
  id           bigserial PRIMARY KEY,
  target       text NOT NULL,
  matchers     jsonb NOT NULL,
  reason       text NOT NULL,
  production   boolean NOT NULL,
  starts_at    timestamptz NOT NULL,
  ends_at      timestamptz NOT NULL,
  created_by   text NOT NULL,
  change_id    bigint,
  -- [{alertmanager, id}] of the silences created for it.
  silences     jsonb NOT NULL DEFAULT '[]',
  ended_at     timestamptz,
  ended_by     text,
  request_key  text UNIQUE
);
CREATE INDEX maintenance_windows_open ON maintenance_windows (ends_at) WHERE ended_at IS NULL;
