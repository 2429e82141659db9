-- Configuration as a change (issue #22): every configuration Firebreak runs with is a stored
-- version. `content` is the YAML file text exactly as proposed (the file cannot hold secrets:
-- the loader refuses them), `hash` its sha256 (checked again before a replica runs it),
-- `effective` the validated configuration with defaults applied and secrets masked.
CREATE TABLE config_versions (
  id              bigserial PRIMARY KEY,
  content         text NOT NULL,
  hash            text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  effective       jsonb NOT NULL,
  author          text NOT NULL,
  source          text NOT NULL CHECK (source IN ('start','cli','slack','sighup','rollback','apply')),
  git_commit      text CHECK (git_commit IS NULL OR git_commit ~ '^[0-9a-fA-F]{4,64}$'),
  created_at      timestamptz NOT NULL,
  status          text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed','active','superseded','failed','refused')),
  activated_at    timestamptz,
  -- The version this one replaced when it was last switched to by a change (not by a rollback):
  -- where an automatic rollback goes back to.
  previous_id     bigint REFERENCES config_versions(id),
  -- The change request that proposed it (the gate's record: approvers, decisions).
  change_id       bigint REFERENCES change_requests(id),
  failure_reason  text
);
-- One row per content: proposing the same file twice is the same version.
CREATE UNIQUE INDEX config_versions_hash ON config_versions (hash);
-- Exactly one version runs at a time across every replica.
CREATE UNIQUE INDEX config_versions_one_active ON config_versions ((true)) WHERE status = 'active';
