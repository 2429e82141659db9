/**
 * The environment variables Firebreak reads: the public contract operators script against.
 * `secret` ones may also be given as `<NAME>_FILE` (a path whose contents are the value) and
 * are refused in the YAML file, so secrets live only in the environment or in files.
 */
export interface EnvBinding {
  env: string;
  path: string[];
  secret?: boolean;
  kind?: 'string' | 'number' | 'list' | 'boolean';
  doc: string;
}

export const ENV_BINDINGS: EnvBinding[] = [
  { env: 'PORT', path: ['port'], kind: 'number', doc: 'HTTP port (default 3000).' },
  { env: 'FIREBREAK_HOST', path: ['host'], doc: 'Address the HTTP server binds to (default 127.0.0.1 in console mode, every interface with Slack).' },
  { env: 'FIREBREAK_CONSOLE_WITH_SLACK', path: ['console', 'withSlack'], kind: 'boolean', doc: 'true: also serve the console (loopback clients only) when Slack is configured (default false).' },
  { env: 'DATABASE_URL', path: ['databaseUrl'], secret: true, doc: 'PostgreSQL URL for Firebreak state; unset = embedded PostgreSQL under FIREBREAK_DATA_DIR.' },
  { env: 'FIREBREAK_APP_ROLE', path: ['databaseAppRole'], doc: 'The non-owner role the application connects as; `firebreak migrate` grants it exactly what it needs.' },
  { env: 'FIREBREAK_DATA_DIR', path: ['dataDir'], doc: 'Directory for the embedded PostgreSQL and local backups (default .data).' },
  { env: 'FIREBREAK_PUBLIC_URL', path: ['publicUrl'], doc: 'Base URL used in links (default http://localhost:PORT).' },
  { env: 'FIREBREAK_CONSOLE_PUBLIC_URL', path: ['console', 'publicUrl'], doc: 'Exposes the local console at this URL, with a login link per console user; unset = the console answers only on loopback.' },
  { env: 'FIREBREAK_CONSOLE_SECRET', path: ['console', 'secret'], secret: true, doc: 'Key (16+ random characters, e.g. openssl rand -base64 32) for console session cookies and an exposed console\'s login links; unset = random at each start.' },
  { env: 'LOG_LEVEL', path: ['logLevel'], doc: 'pino log level (default info).' },
  { env: 'SLACK_BOT_TOKEN', path: ['slack', 'botToken'], secret: true, doc: 'Bot token (xoxb-...). With SLACK_SIGNING_SECRET: HTTP mode.' },
  { env: 'SLACK_SIGNING_SECRET', path: ['slack', 'signingSecret'], secret: true, doc: 'Signing secret that verifies requests to POST /slack/events.' },
  { env: 'SLACK_APP_TOKEN', path: ['slack', 'appToken'], secret: true, doc: 'App-level token (xapp-...): Socket Mode instead of HTTP.' },
  { env: 'SLACK_API_URL', path: ['slack', 'apiUrl'], doc: "Slack Web API base URL (default https://slack.com/api/)." },
  { env: 'PAGERDUTY_ROUTING_KEY', path: ['paging', 'routingKey'], secret: true, doc: 'Default PagerDuty Events API v2 routing key; unset = paging off.' },
  { env: 'PAGERDUTY_API_TOKEN', path: ['paging', 'apiToken'], secret: true, doc: 'PagerDuty REST API token for /incident oncall.' },
  { env: 'PAGERDUTY_WEBHOOK_SECRETS', path: ['paging', 'webhookSecrets'], secret: true, kind: 'list', doc: 'Comma-separated PagerDuty webhook v3 signing secrets.' },
  { env: 'ALERTMANAGER_WEBHOOK_TOKEN', path: ['alerts', 'receivers', 'alertmanager', 'bearerToken'], secret: true, doc: 'Bearer token Alertmanager sends to POST /webhooks/alertmanager.' },
  { env: 'ALERTMANAGER_WEBHOOK_USERNAME', path: ['alerts', 'receivers', 'alertmanager', 'basicUsername'], doc: 'Basic-auth user for POST /webhooks/alertmanager (with ALERTMANAGER_WEBHOOK_PASSWORD).' },
  { env: 'ALERTMANAGER_WEBHOOK_PASSWORD', path: ['alerts', 'receivers', 'alertmanager', 'basicPassword'], secret: true, doc: 'Basic-auth password for POST /webhooks/alertmanager.' },
  { env: 'GRAFANA_WEBHOOK_TOKEN', path: ['alerts', 'receivers', 'grafana', 'bearerToken'], secret: true, doc: 'Bearer token Grafana sends to POST /webhooks/grafana.' },
  { env: 'GRAFANA_WEBHOOK_HMAC_SECRET', path: ['alerts', 'receivers', 'grafana', 'signatureSecret'], secret: true, doc: 'HMAC secret of the Grafana webhook contact point (X-Grafana-Alerting-Signature).' },
  { env: 'GENERIC_WEBHOOK_TOKEN', path: ['alerts', 'receivers', 'generic', 'bearerToken'], secret: true, doc: 'Bearer token for POST /webhooks/generic.' },
  { env: 'FIREBREAK_SHUTDOWN_BUDGET_SECONDS', path: ['ops', 'shutdownBudgetSeconds'], kind: 'number', doc: 'Seconds a graceful shutdown (SIGTERM/SIGINT) may take; keep it under the orchestrator\'s grace period (default 30).' },
  { env: 'FIREBREAK_RUNBOOKS_DIR', path: ['ops', 'runbooksDir'], doc: 'Directory of Markdown runbooks for /runbook and GET /runbooks (default runbooks).' },
  { env: 'FIREBREAK_APPROVALS_CHANNEL', path: ['approvals', 'channel'], doc: 'Channel (name or id) where change requests are posted (default approvals).' },
  { env: 'FIREBREAK_APPROVERS', path: ['approvals', 'approvers'], kind: 'list', doc: 'Comma-separated Slack user ids who approve every gated action that names no approvers of its own.' },
  { env: 'DR_SCRATCH_DATABASE_URL', path: ['dr', 'scratchDatabaseUrl'], secret: true, doc: 'Admin URL of the server where /dr dry-run creates firebreak_dr_<n> (needs CREATEDB); unset = the Firebreak state server.' },
  { env: 'DR_TARGET_SERVER_URL', path: ['dr', 'targetServerUrl'], secret: true, doc: 'Admin URL of the server /dr execute recovers onto; unset = the server of the backed-up database.' },
  { env: 'FIREBREAK_BACKUP_RECIPIENT', path: ['backups', 'encryption', 'recipient'], doc: 'age public key (age1...) backups are encrypted to; the bot needs only this.' },
  { env: 'FIREBREAK_BACKUP_IDENTITY', path: ['backups', 'encryption', 'identity'], secret: true, doc: 'age secret key (AGE-SECRET-KEY-1...) for verify contents and restore; optional.' },
  { env: 'FIREBREAK_BACKUP_BUCKET', path: ['backups', 'storage', 'bucket'], doc: 'S3 bucket for backups; unset = local directory.' },
  { env: 'FIREBREAK_BACKUP_S3_ENDPOINT', path: ['backups', 'storage', 'endpoint'], doc: 'S3-compatible endpoint URL (MinIO, Ceph); unset = AWS.' },
  { env: 'FIREBREAK_BACKUP_S3_REGION', path: ['backups', 'storage', 'region'], doc: 'S3 region (default us-east-1).' },
  { env: 'FIREBREAK_BACKUP_PREFIX', path: ['backups', 'storage', 'prefix'], doc: 'Key prefix for backup objects (default firebreak).' },
  { env: 'FIREBREAK_BACKUP_DIR', path: ['backups', 'storage', 'localDir'], doc: 'Local backup directory when no bucket is set (default DATA_DIR/backups).' },
  { env: 'FIREBREAK_PG_BIN_DIR', path: ['backups', 'pgBinDir'], doc: 'Directory with pg_dump/pg_restore matching the server (default PATH).' },
  { env: 'FIREBREAK_PITR_CIPHER_PASS', path: ['pitr', 'encryption', 'passphrase'], secret: true, doc: 'pgBackRest repository cipher passphrase (aes-256-cbc); handed to pgBackRest in its environment, never on argv.' },
  { env: 'STATUSPAGE_API_KEY', path: ['statusPage', 'atlassian', 'apiKey'], secret: true, doc: 'Atlassian Statuspage API key; with statusPage.atlassian.pageId, approved status-page publishes are synced there.' },
  { env: 'GITHUB_TOKEN', path: ['followups', 'github', 'token'], secret: true, doc: 'GitHub token that creates follow-up issues (followups.tracker github; Issues read and write on the repository).' },
  { env: 'GITHUB_WEBHOOK_SECRET', path: ['followups', 'github', 'webhookSecret'], secret: true, doc: 'Secret of the GitHub repository webhook to POST /webhooks/github (X-Hub-Signature-256); unset = the webhook is refused and polling alone brings closes back.' },
  { env: 'JIRA_API_TOKEN', path: ['followups', 'jira', 'apiToken'], secret: true, doc: 'Atlassian API token of followups.jira.email, for follow-up issues (followups.tracker jira).' },
  { env: 'JIRA_WEBHOOK_SECRET', path: ['followups', 'jira', 'webhookSecret'], secret: true, doc: 'Secret of the Jira webhook to POST /webhooks/jira (X-Hub-Signature); unset = the webhook is refused and polling alone brings closes back.' },
];
