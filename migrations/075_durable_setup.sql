-- War-room setup as resumable steps (issue 24). Each step records its intent ('started')
-- before calling Slack and its result ('done') after, so a resumed setup knows which Slack
-- objects may already exist and looks for them instead of creating them again.
ALTER TABLE incidents ADD COLUMN setup_steps jsonb NOT NULL DEFAULT '{}'::jsonb;
-- The channel name an incident is creating (or created) is claimed here before Slack is
-- asked, so a channel found under that name can only be this incident's.
CREATE UNIQUE INDEX incidents_channel_name ON incidents (channel_name) WHERE channel_name IS NOT NULL;
