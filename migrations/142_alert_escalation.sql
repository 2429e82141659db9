-- When an unacknowledged alert group escalated (alerts route `escalate_after`/`escalate_to`):
-- set once per episode by a conditional UPDATE, so two replicas or a re-run job escalate once.
ALTER TABLE alert_groups ADD COLUMN escalated_at timestamptz;
