-- Message metadata on console posts, as Slack keeps it (issue 24): the war-room steps tag what
-- they post with the incident and step, and a resumed or re-run setup in console mode finds
-- its earlier post instead of posting it again.
ALTER TABLE console_messages ADD COLUMN metadata jsonb;
CREATE INDEX console_messages_metadata ON console_messages (channel_id, (metadata->>'event_type')) WHERE metadata IS NOT NULL;
