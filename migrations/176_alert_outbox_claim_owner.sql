-- Which attempt holds an outbox row's claim (110): renewing and ending a claim touch the row only
-- while it is still that attempt's. Ending "whatever claim the row has" let an attempt that had
-- dropped its row (sent) clear the claim another replica took on the change queued since, and a
-- third attempt sent the group while that one was still on its way. A random id, not the claim's
-- time: two attempts can compute the same posting_until.
ALTER TABLE alert_outbox ADD COLUMN posting_by uuid;
