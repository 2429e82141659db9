-- Who is sending an outbox row right now: a replica claims the row for the length of its
-- Slack call (renewed while the call lasts). The flush's advisory lock alone did not keep two
-- replicas apart: a PostgreSQL restart ends the lock's session while a post is still on its
-- way to Slack, and the other replica then posted the same group again. A claim left by a
-- replica that died lapses, and the next attempt looks for the message before posting.
ALTER TABLE alert_outbox ADD COLUMN posting_until timestamptz;
