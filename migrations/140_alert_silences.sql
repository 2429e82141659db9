-- Alertmanager silences as Firebreak knows them (src/silences): the ones it created from Slack
-- and the ones read back from each Alertmanager's API (amtool, the web UI), so group messages
-- can show them without asking Alertmanager on every render.
--
-- A row is written BEFORE Firebreak asks Alertmanager for a silence (silence_id still NULL),
-- keyed by the Slack request: a job re-run after its replica died finds that row and looks
-- for the silence in Alertmanager instead of creating a second one.
CREATE TABLE alert_silences (
  id            bigserial PRIMARY KEY,
  alertmanager  text NOT NULL,
  silence_id    text,
  matchers      jsonb NOT NULL,
  starts_at     timestamptz NOT NULL,
  ends_at       timestamptz NOT NULL,
  created_by    text NOT NULL,
  comment       text NOT NULL,
  -- active | pending | expired, as Alertmanager reports it; 'creating' until it answered.
  state         text NOT NULL CHECK (state IN ('creating', 'active', 'pending', 'expired')),
  slack_user    text,
  group_id      bigint,
  request_key   text UNIQUE,
  updated_at    timestamptz NOT NULL,
  UNIQUE (alertmanager, silence_id)
);
CREATE INDEX alert_silences_live ON alert_silences (ends_at) WHERE state IN ('active', 'pending');
CREATE INDEX alert_silences_group ON alert_silences (group_id) WHERE group_id IS NOT NULL;
