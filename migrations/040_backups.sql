-- Backups: one row per attempt, mirroring the manifest object written last to the store.
-- A backup is good (status 'verified') only when pg_dump exited 0, the upload completed,
-- sizes matched, the re-read checks passed and the manifest was written.
CREATE TABLE backups (
  id              text PRIMARY KEY,
  database        text NOT NULL,
  tier            text NOT NULL CHECK (tier IN ('hourly','daily','monthly','manual')),
  status          text NOT NULL CHECK (status IN ('running','verified','failed','interrupted','expired')),
  object_key      text NOT NULL,
  manifest_key    text NOT NULL,
  store_location  text NOT NULL,
  sha256          text,
  raw_bytes       bigint,
  stored_bytes    bigint,
  format          text NOT NULL DEFAULT 'pg_dump-custom+zstd+age',
  recipient       text NOT NULL,
  server_version  text,
  pg_dump_version text,
  snapshot_at     timestamptz,
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz,
  verified_at     timestamptz,
  verification    jsonb NOT NULL DEFAULT '{}'::jsonb,
  row_counts      jsonb,
  requested_by    text NOT NULL,
  error           text,
  expired_at      timestamptz
);
CREATE INDEX backups_by_database ON backups (database, snapshot_at DESC);
CREATE INDEX backups_good ON backups (database, snapshot_at DESC) WHERE status = 'verified';
