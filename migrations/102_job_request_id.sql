-- The request that enqueued a job: whichever replica or loop runs it later, its log lines name
-- the POST that asked for the work (a declare's war-room setup logs under the declare's id).
ALTER TABLE jobs ADD COLUMN request_id text;
