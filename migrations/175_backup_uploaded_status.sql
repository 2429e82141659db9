-- A backup lands in two steps: 'uploaded' (the stream is in the store and its size matches,
-- at the speed of the pipeline) and then 'verified' (re-read, decrypted, pg_restore --list,
-- row counts, manifest written). Only 'verified' is a good backup; 'uploaded' is in progress.
ALTER TABLE backups DROP CONSTRAINT backups_status_check;
ALTER TABLE backups ADD CONSTRAINT backups_status_check
  CHECK (status IN ('running','uploaded','verified','failed','interrupted','expired'));
