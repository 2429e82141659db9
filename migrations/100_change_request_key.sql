-- The chat request that asked for a change (issue 24). A command re-run after its replica died
-- finds the change request its first run made instead of making (and maybe running) a second.
ALTER TABLE change_requests ADD COLUMN request_key text;
CREATE UNIQUE INDEX change_requests_request_key ON change_requests (request_key) WHERE request_key IS NOT NULL;
