-- How many times an outbox row was queued again since it was inserted. A send drops the row only
-- if this is still what its claim read: an incident attached to the group, a silence at the
-- source or the incident's channel becoming ready re-queue the row without a new group version,
-- and a send in flight then dropped that change with its own (the message never showed it).
ALTER TABLE alert_outbox ADD COLUMN queued_seq bigint NOT NULL DEFAULT 0;
