-- Routing inserts one alert_group_members row per routed alert, and each row's two foreign-key
-- checks (a per-row SPI query locking the group row and the alert row FOR KEY SHARE) cost more
-- PostgreSQL CPU than the rest of the insert: on 50,000 rows in batches of 1,000 (PostgreSQL 15),
-- 27-35 µs a row with both keys, 23 with the group key alone, 7 with none. During an alert storm
-- that was as much PostgreSQL time as storing the alerts. The rows are only ever written by
-- routing, for a group it has just upserted and alerts it has just claimed in the same
-- transaction, and read through joins to both tables; retention (pruneAlerts) now deletes an
-- alert's memberships itself, and deletes only groups that have none. A membership left behind by
-- a race with retention points at an id that is never reused and joins to nothing.
ALTER TABLE alert_group_members DROP CONSTRAINT IF EXISTS alert_group_members_group_id_fkey;
ALTER TABLE alert_group_members DROP CONSTRAINT IF EXISTS alert_group_members_alert_id_fkey;
