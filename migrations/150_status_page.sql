-- The public status page (src/statuspage): only text that went through the change gate
-- (policy statuspage.publish) is stored here, and only these tables feed GET /status*.
CREATE TABLE status_incidents (
  id             bigserial PRIMARY KEY,
  -- The internal incident it tells the public about; never shown on the page.
  incident_id    bigint UNIQUE REFERENCES incidents(id),
  title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  status         text NOT NULL CHECK (status IN ('investigating','identified','monitoring','resolved')),
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  resolved_at    timestamptz,
  -- Atlassian Statuspage's incident id once the sync created (or found) it.
  remote_id      text
);
CREATE INDEX status_incidents_recent ON status_incidents (created_at DESC);

CREATE TABLE status_updates (
  id                  bigserial PRIMARY KEY,
  status_incident_id  bigint NOT NULL REFERENCES status_incidents(id),
  status              text NOT NULL CHECK (status IN ('investigating','identified','monitoring','resolved')),
  body                text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
  -- {componentId: state} as approved for this update.
  components          jsonb NOT NULL DEFAULT '{}',
  published_at        timestamptz NOT NULL,
  -- Who asked (internal; the page never shows it) and the change request that approved it:
  -- one update per change, so a re-run of the approved execution publishes nothing twice.
  requested_by        text NOT NULL,
  change_id           bigint UNIQUE,
  -- When Atlassian Statuspage has this update (the sync job looks first before sending again).
  remote_synced_at    timestamptz
);
CREATE INDEX status_updates_incident ON status_updates (status_incident_id, id);

-- The current public state of each configured component (absent = operational).
CREATE TABLE status_components (
  component_id  text PRIMARY KEY,
  state         text NOT NULL CHECK (state IN ('operational','degraded','partial_outage','major_outage','maintenance')),
  updated_at    timestamptz NOT NULL,
  update_id     bigint REFERENCES status_updates(id)
);
