-- Alert intake and routing: every accepted alert, the groups they are routed into, the
-- Slack messages that show each group, and a per-channel outbox that paces posting.

CREATE TABLE alerts (
  id                bigserial PRIMARY KEY,
  source            text NOT NULL,
  fingerprint       text NOT NULL,
  status            text NOT NULL CHECK (status IN ('firing','resolved')),
  labels            jsonb NOT NULL,
  annotations       jsonb NOT NULL DEFAULT '{}'::jsonb,
  starts_at         timestamptz NOT NULL,
  ends_at           timestamptz,
  generator_url     text,
  first_received_at timestamptz NOT NULL,
  last_received_at  timestamptz NOT NULL,
  received_count    int NOT NULL DEFAULT 1,
  -- The transaction that last changed the alert in a way routing must see: lets the ingest
  -- statement tell a change from a duplicate delivery.
  changed_xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
  UNIQUE (source, fingerprint)
);

-- Alerts whose latest change routing has not seen yet. Routing runs after the webhook has
-- answered and deletes what it took; kept apart from `alerts` so catching up never rewrites
-- the (wide) alert rows. No index on purpose: an alert queued twice is routed once (the
-- claim de-duplicates), and intake never waits on a row routing is deleting.
CREATE TABLE alert_pending (
  alert_id bigint NOT NULL
);

CREATE TABLE alert_groups (
  id                   bigserial PRIMARY KEY,
  group_key            text NOT NULL UNIQUE,
  route_key            text NOT NULL,
  channel              text NOT NULL,
  group_labels         jsonb NOT NULL,
  created_at           timestamptz NOT NULL,
  version              int NOT NULL DEFAULT 1,
  notified_version     int NOT NULL DEFAULT 0,
  last_notified_at     timestamptz,
  incident_id          bigint REFERENCES incidents(id),
  declares             int NOT NULL DEFAULT 0,
  last_declared_at     timestamptz,
  all_resolved_noticed boolean NOT NULL DEFAULT false,
  acknowledged_by      text,
  acknowledged_at      timestamptz,
  silenced_until       timestamptz,
  silenced_by          text
);
CREATE INDEX alert_groups_incident ON alert_groups (incident_id) WHERE incident_id IS NOT NULL;

CREATE TABLE alert_group_members (
  group_id bigint NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
  alert_id bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, alert_id)
);
CREATE INDEX alert_group_members_alert ON alert_group_members (alert_id);

-- The Slack message showing a group in one channel (routed channel or incident channel).
CREATE TABLE alert_messages (
  group_id   bigint NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
  channel    text NOT NULL,
  channel_id text NOT NULL,
  ts         text NOT NULL,
  posted_at  timestamptz NOT NULL,
  PRIMARY KEY (group_id, channel)
);

-- What still has to be said in Slack. One row per (group, channel, kind): a second change
-- before the row is sent coalesces into it, and the message is rendered at send time.
CREATE TABLE alert_outbox (
  group_id   bigint NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
  channel    text NOT NULL,
  -- message: post or update the group's message; reminder: repeat_interval's "still firing".
  kind       text NOT NULL CHECK (kind IN ('message','reminder')),
  queued_at  timestamptz NOT NULL,
  not_before timestamptz NOT NULL,
  attempts   int NOT NULL DEFAULT 0,
  last_error text,
  PRIMARY KEY (group_id, channel, kind)
);
CREATE INDEX alert_outbox_due ON alert_outbox (not_before);

-- When each channel may next be posted to (Slack allows about one message per second).
CREATE TABLE alert_channel_pace (
  channel text PRIMARY KEY,
  next_at timestamptz NOT NULL
);

-- Which alerts have been reported into which incident (so each is attached once).
CREATE TABLE alert_incident_links (
  alert_id    bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  incident_id bigint NOT NULL REFERENCES incidents(id),
  linked_at   timestamptz NOT NULL,
  -- Whether the incident timeline has heard this alert resolve (reset when it fires again).
  resolved_reported boolean NOT NULL DEFAULT false,
  PRIMARY KEY (alert_id, incident_id)
);
