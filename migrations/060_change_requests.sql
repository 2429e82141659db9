-- Change management: requests for risky actions and the approvals given to them.
-- Every decision is also an event in the hash-chained `events` log (subject `change:<id>`);
-- these tables hold the live state the four-eyes rules are enforced against.

CREATE TABLE change_requests (
  id                 bigserial PRIMARY KEY,
  kind               text NOT NULL,
  title              text NOT NULL,
  category           text NOT NULL DEFAULT 'normal' CHECK (category IN ('standard','normal','emergency')),
  risk               text CHECK (risk IN ('low','medium','high')),
  params             jsonb NOT NULL,
  -- SHA-256 of the canonical JSON of params at request time: approvals are bound to it.
  params_hash        text NOT NULL,
  requester          text NOT NULL,
  requester_channel  text,
  status             text NOT NULL CHECK (status IN
                       ('pending','approved','executing','executed','failed','rejected','expired','void')),
  approvals_required int NOT NULL CHECK (approvals_required >= 0),
  -- pre-approved | break-glass | no-approval-required | approved
  started_because    text,
  break_glass_reason text,
  needs_review       boolean NOT NULL DEFAULT false,
  reviewed_by        text,
  reviewed_at        timestamptz,
  review_note        text,
  created_at         timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL,
  decided_at         timestamptz,
  rejected_by        text,
  reject_reason      text,
  void_reason        text,
  executed_at        timestamptz,
  finished_at        timestamptz,
  result_ok          boolean,
  result_summary     text,
  message_channel    text,
  message_ts         text,
  -- [{channel, ts}] of the DMs sent to approvers, updated in place with the main message.
  direct_messages    jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX change_requests_open ON change_requests (expires_at) WHERE status = 'pending';
CREATE INDEX change_requests_review ON change_requests (id) WHERE needs_review AND reviewed_at IS NULL;

-- One row per approver per parameter hash: a person counts once for the exact parameters
-- they saw; if the parameters change their earlier approval no longer counts.
CREATE TABLE change_approvals (
  request_id  bigint NOT NULL REFERENCES change_requests(id),
  approver    text NOT NULL,
  params_hash text NOT NULL,
  at          timestamptz NOT NULL,
  PRIMARY KEY (request_id, approver, params_hash)
);
