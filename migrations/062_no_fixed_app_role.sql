-- Migration 061 granted to any role named firebreak_app on the whole server: a name an
-- unrelated database on the same server may use for something else. Migrations are history
-- and are not edited, so this one takes those grants back. The application role is now named
-- by the operator (`firebreak migrate --app-role <role>`, or FIREBREAK_APP_ROLE), and
-- `firebreak migrate` grants it exactly what it needs after every migration run.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'firebreak_app')
     AND NOT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'events' AND tableowner = 'firebreak_app') THEN
    REVOKE ALL ON events, events_head FROM firebreak_app;
    REVOKE USAGE, SELECT ON SEQUENCE events_id_seq FROM firebreak_app;
  END IF;
END $$;
