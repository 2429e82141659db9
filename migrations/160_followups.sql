-- Follow-ups: the action items of an incident as records with an owner, a due date and a status,
-- optionally exported to the team's tracker (GitHub Issues or Jira) whose state flows back.
CREATE TABLE followups (
  id              bigserial PRIMARY KEY,
  incident_id     bigint NOT NULL REFERENCES incidents(id),
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  -- Chat user id of the owner when known; owner_label keeps what was written when it is not.
  owner_user_id   text,
  owner_label     text,
  due_on          date,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open','done','cancelled')),
  source          text NOT NULL CHECK (source IN ('note','postmortem','button','command')),
  -- The timeline event an `action:` note came from: one follow-up per note, however often read.
  source_event_id bigint UNIQUE REFERENCES events(id),
  request_key     text UNIQUE,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL,
  closed_at       timestamptz,
  closed_by       text,
  -- Where it lives in the tracker once exported ('github' | 'jira'), and the export's state.
  tracker         text CHECK (tracker IN ('github','jira')),
  tracker_key     text,
  tracker_url     text,
  export_state    text NOT NULL DEFAULT 'none' CHECK (export_state IN ('none','pending','exported','failed')),
  export_error    text,
  UNIQUE (tracker, tracker_key)
);
CREATE INDEX followups_open_owner ON followups (owner_user_id) WHERE status = 'open';
CREATE INDEX followups_incident ON followups (incident_id);

-- One overdue reminder per follow-up per week, whichever replica runs the weekly schedule.
CREATE TABLE followup_reminders (
  followup_id bigint NOT NULL REFERENCES followups(id),
  week        date NOT NULL,
  sent_at     timestamptz NOT NULL,
  PRIMARY KEY (followup_id, week)
);
