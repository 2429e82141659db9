-- Changes people made to a PagerDuty incident from Slack (acknowledge, resolve, escalate,
-- reassign). Written before the REST call so the webhook PagerDuty sends about the same change
-- (its echo, which may arrive before our call returns) is recognised and not recorded twice.
CREATE TABLE pagerduty_actions (
  id              bigserial PRIMARY KEY,
  page_id         bigint NOT NULL,
  pd_incident_id  text NOT NULL,
  action          text NOT NULL CHECK (action IN ('acknowledged', 'resolved', 'escalated', 'reassigned')),
  slack_user      text NOT NULL,
  pd_user_id      text NOT NULL,
  escalation_level int,
  requested_at    timestamptz NOT NULL,
  done            boolean NOT NULL DEFAULT false,
  echo_event_id   text
);
CREATE INDEX pagerduty_actions_echo ON pagerduty_actions (pd_incident_id, action) WHERE echo_event_id IS NULL;
