-- The local console's chat (src/console/surface.ts): channels, membership, messages and open
-- modals live in PostgreSQL so a restart keeps the history and two replicas show one console.

-- Every write to the console takes the next value under a transaction-level advisory lock
-- (see ConsoleSurface.write), so revisions become visible in order and a page polling
-- "what changed since revision N" never skips a row that committed late.
CREATE SEQUENCE console_rev;

CREATE TABLE console_channels (
  id          text PRIMARY KEY,
  -- 'public' channels are listed for everyone; 'dm' channels belong to one user.
  kind        text NOT NULL CHECK (kind IN ('public', 'dm')),
  name        text NOT NULL,
  topic       text NOT NULL DEFAULT '',
  purpose     text NOT NULL DEFAULT '',
  archived    boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rev         bigint NOT NULL
);
-- Archived channels keep their name, as in Slack: a new channel may not reuse it.
CREATE UNIQUE INDEX console_channels_public_name ON console_channels (name) WHERE kind = 'public';
CREATE UNIQUE INDEX console_channels_dm_user ON console_channels (name) WHERE kind = 'dm';

CREATE TABLE console_members (
  channel_id  text NOT NULL REFERENCES console_channels(id),
  user_id     text NOT NULL,
  PRIMARY KEY (channel_id, user_id)
);

CREATE TABLE console_messages (
  id          bigserial PRIMARY KEY,
  channel_id  text NOT NULL REFERENCES console_channels(id),
  ts          text NOT NULL,
  thread_ts   text,
  author      text NOT NULL,
  text        text NOT NULL,
  blocks      jsonb,
  -- An uploaded file shown inline: {filename, title, content}.
  file        jsonb,
  -- Ephemeral messages are shown only to this user.
  visible_to  text,
  posted_at   timestamptz NOT NULL,
  edited_at   timestamptz,
  rev         bigint NOT NULL,
  UNIQUE (channel_id, ts)
);
CREATE INDEX console_messages_rev ON console_messages (rev);

-- The modal open for each console user (one at a time, like a browser dialog).
CREATE TABLE console_modals (
  user_id     text PRIMARY KEY,
  view        jsonb NOT NULL,
  opened_at   timestamptz NOT NULL,
  rev         bigint NOT NULL
);
