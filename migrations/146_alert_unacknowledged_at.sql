-- When PagerDuty last withdrew a group's acknowledgement (unacknowledged or reopened there):
-- escalate_after counts again from then, and an escalation job queued before it stands down.
ALTER TABLE alert_groups ADD COLUMN unacknowledged_at timestamptz;
