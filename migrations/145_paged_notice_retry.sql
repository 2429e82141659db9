-- What the "Paged …" message said about how it got through ("after N attempts", "Retried by"),
-- so editing it later to show PagerDuty's state does not drop those facts.
ALTER TABLE pages ADD COLUMN notice_attempts int NOT NULL DEFAULT 1;
ALTER TABLE pages ADD COLUMN notice_retried_by text;
