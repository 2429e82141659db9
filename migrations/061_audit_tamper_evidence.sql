-- Tamper evidence for the one event log beyond its hash chain (the audit log is the
-- `events` table: src/audit reads the audit-relevant kinds from it).
--
-- The chain alone detects an edited row and a row deleted in the middle, but not rows
-- deleted from the END (the remaining chain is still valid). `events_head` records the
-- last appended row, its hash and how many rows were ever appended; a trigger advances it
-- on every insert and refuses to move it backwards, so verify can tell that rows at the
-- end are gone. Someone who can disable triggers can also rewind the head: the hash that
-- `audit verify` prints is the anchor to keep outside the database.

CREATE TABLE events_head (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_id     bigint NOT NULL,
  event_count bigint NOT NULL,
  head_hash   text NOT NULL
);
INSERT INTO events_head (last_id, event_count, head_hash)
  SELECT coalesce(max(id), 0), count(*),
         coalesce((SELECT hash FROM events ORDER BY id DESC LIMIT 1), repeat('0', 64))
    FROM events;

-- SECURITY DEFINER: the application role may only INSERT into events; the head moves
-- with the migration owner's rights, never by a direct UPDATE from the application.
CREATE FUNCTION events_advance_head() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public AS $$
BEGIN
  UPDATE events_head SET last_id = NEW.id, event_count = event_count + 1, head_hash = NEW.hash;
  RETURN NULL;
END $$;
CREATE TRIGGER events_head_advance AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_advance_head();

CREATE FUNCTION events_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' THEN
    RAISE EXCEPTION 'events_head: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.last_id <= OLD.last_id OR NEW.event_count <> OLD.event_count + 1 THEN
    RAISE EXCEPTION 'events_head only moves forward, one appended event at a time' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER events_head_guard BEFORE UPDATE OR DELETE ON events_head FOR EACH ROW EXECUTE FUNCTION events_head_forward_only();
CREATE TRIGGER events_head_no_truncate BEFORE TRUNCATE ON events_head FOR EACH STATEMENT EXECUTE FUNCTION events_head_forward_only();

-- Privileges, the second lock besides the triggers: a role that does not own the tables
-- gets INSERT and SELECT only. Operators who run Firebreak as a separate, non-owner role
-- call this once for it (the migration does it for a role named firebreak_app if present).
-- A table owner can always disable triggers or re-grant itself; that is why the owner
-- should be a different role from the one the application connects as.
CREATE FUNCTION audit_restrict_role(role_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON events, events_head FROM %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT ON events TO %I', role_name);
  EXECUTE format('GRANT SELECT ON events_head TO %I', role_name);
  EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE events_id_seq TO %I', role_name);
END $$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'firebreak_app') THEN
    PERFORM audit_restrict_role('firebreak_app');
  END IF;
END $$;
