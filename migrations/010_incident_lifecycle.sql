-- Incident lifecycle: update cadence state, channel membership, pinned messages, post-mortems.

-- When the last stakeholder update was posted and how many reminders since went unanswered:
-- the reminder job reads these, an update resets them.
ALTER TABLE incidents ADD COLUMN last_update_at timestamptz;
ALTER TABLE incidents ADD COLUMN missed_reminders int NOT NULL DEFAULT 0;

-- People known to be in the incident channel (invited by Firebreak, joined, or acting from
-- inside it). Changes to an incident are taken only from them.
CREATE TABLE incident_members (
  incident_id bigint NOT NULL REFERENCES incidents(id),
  user_id     text NOT NULL,
  via         text NOT NULL,
  added_at    timestamptz NOT NULL,
  PRIMARY KEY (incident_id, user_id)
);

-- One timeline entry per pinned (or :pushpin:-reacted) message, however many times Slack
-- delivers the event and however many people pin it.
CREATE TABLE incident_pins (
  incident_id bigint NOT NULL REFERENCES incidents(id),
  message_ts  text NOT NULL,
  pinned_at   timestamptz NOT NULL,
  PRIMARY KEY (incident_id, message_ts)
);

-- Post-mortem drafts; every regeneration is a new version, so nothing a reader saw is lost.
CREATE TABLE postmortems (
  id           bigserial PRIMARY KEY,
  incident_id  bigint NOT NULL REFERENCES incidents(id),
  version      int NOT NULL,
  markdown     text NOT NULL,
  generated_by text NOT NULL,
  generated_at timestamptz NOT NULL,
  UNIQUE (incident_id, version)
);
