-- When, by the tracker's own clock, the issue state last applied to a follow-up happened: an
-- older event (a replayed webhook, a late redelivery) never undoes a newer one.
ALTER TABLE followups ADD COLUMN tracker_state_at timestamptz;
