-- PagerDuty controls on alert groups that came from PagerDuty (source `pagerduty`), and
-- messages that show PagerDuty's real state.
--
-- A change made from an alert group's buttons has no page behind it: the intent row names the
-- group instead, so the webhook echo is still recognised (claimEcho matches on the PagerDuty
-- incident id and action only).
ALTER TABLE pagerduty_actions ALTER COLUMN page_id DROP NOT NULL;
ALTER TABLE pagerduty_actions ADD COLUMN group_id bigint;

-- What PagerDuty says about an incident Firebreak did not raise (an alert of source
-- `pagerduty`): who acknowledged it, from Slack or in PagerDuty. Cleared when it re-triggers.
CREATE TABLE pagerduty_alert_state (
  pd_incident_id   text PRIMARY KEY,
  acknowledged_by  text NOT NULL,
  -- The Slack user when acknowledged from Slack; the PagerDuty name is in acknowledged_by otherwise.
  slack_user       text,
  acknowledged_at  timestamptz NOT NULL
);

-- The "Paged …" message with the PagerDuty buttons, so it can be edited when PagerDuty's state
-- changes (acknowledged or resolved, from Slack or in PagerDuty).
ALTER TABLE pages ADD COLUMN notice_channel text;
ALTER TABLE pages ADD COLUMN notice_ts text;
ALTER TABLE pages ADD COLUMN acknowledged_by text;
ALTER TABLE pages ADD COLUMN acknowledged_at timestamptz;
