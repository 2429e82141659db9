import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queryable } from '../db/pool.js';

/**
 * Firebreak's one Prometheus registry and every metric it exports. Areas import the metric
 * objects from here and increment them where the thing happens; `GET /metrics` (src/app/ops.ts)
 * serves the registry. Metric names are a public contract (dashboards, deploy/prometheus/firebreak-rules.yml):
 * rename only with the rules file.
 *
 * Gauges that describe stored state (incidents open, approvals pending, last backup) are read
 * from the database at scrape time by `refreshStoredStateGauges`, so every replica reports the
 * same numbers no matter which one did the work.
 */
export const registry = new Registry();
registry.setDefaultLabels({ service: 'firebreak' });
collectDefaultMetrics({ register: registry, prefix: 'firebreak_' });

const SECONDS_FAST = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// ---- HTTP (wired in src/app/app.ts through createHttpServer's observe callback) ----
export const httpRequests = new Counter({
  name: 'firebreak_http_requests_total',
  help: 'HTTP requests by route pattern and status code.',
  labelNames: ['route', 'status'] as const,
  registers: [registry],
});
export const httpRequestDuration = new Histogram({
  name: 'firebreak_http_request_duration_seconds',
  help: 'HTTP request handling time by route pattern.',
  labelNames: ['route'] as const,
  buckets: SECONDS_FAST,
  registers: [registry],
});

// ---- Configuration (set by src/app/app.ts when it starts on, or switches to, a version) ----
export const configVersionInfo = new Gauge({
  name: 'firebreak_config_version_info',
  help: 'The configuration version this replica runs (always 1; the labels say which). Absent when it runs an unversioned file.',
  labelNames: ['version', 'hash'] as const,
  registers: [registry],
});

/** One series, the running version's: the previous one is removed at a switch. */
export function setConfigVersionInfo(ref: { id: number; hash: string } | undefined): void {
  configVersionInfo.reset();
  if (ref) configVersionInfo.set({ version: String(ref.id), hash: ref.hash }, 1);
}

/** The observe callback for createHttpServer. */
export function observeHttpRequest(route: string, status: number, ms: number): void {
  httpRequests.inc({ route, status: String(status) });
  httpRequestDuration.observe({ route }, ms / 1000);
}

// ---- Slash commands (src/chat/router.ts) ----
export type CommandOutcome = 'ok' | 'error' | 'duplicate' | 'unknown_command';
export const slashCommands = new Counter({
  name: 'firebreak_slash_commands_total',
  help: 'Slash commands handled, by command, subcommand and outcome (ok, error, duplicate, unknown_command).',
  labelNames: ['command', 'subcommand', 'outcome'] as const,
  registers: [registry],
});
export const slashCommandDuration = new Histogram({
  name: 'firebreak_slash_command_duration_seconds',
  help: 'Time from receiving a slash command to finishing its synchronous part (before background work).',
  labelNames: ['command', 'subcommand'] as const,
  buckets: SECONDS_FAST,
  registers: [registry],
});

/** Records one slash command. `subcommand` is the first word, or '' for none. */
export function observeSlashCommand(command: string, subcommand: string, outcome: CommandOutcome, seconds: number): void {
  // Free text must not become a label value (unbounded cardinality): keep only word-like names.
  const sub = /^[a-z][a-z0-9_-]{0,30}$/i.test(subcommand) ? subcommand.toLowerCase() : subcommand ? 'other' : '';
  slashCommands.inc({ command, subcommand: sub, outcome });
  slashCommandDuration.observe({ command, subcommand: sub }, seconds);
}

// ---- Incidents (collected from the incidents table at scrape time) ----
export const incidentsOpen = new Gauge({
  name: 'firebreak_incidents_open',
  help: 'Incidents not yet resolved, by severity.',
  labelNames: ['severity'] as const,
  registers: [registry],
});

// ---- Alerts (src/alerts) ----
export const alertsReceived = new Counter({
  name: 'firebreak_alerts_received_total',
  help: 'Alerts received from monitoring, by source (alertmanager, pagerduty, ...).',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const alertsRouted = new Counter({
  name: 'firebreak_alerts_routed_total',
  help: 'Alerts routed, by the route that matched and what was done (posted, incident, paged, dropped).',
  labelNames: ['route', 'action'] as const,
  registers: [registry],
});
export const alertsDeduplicated = new Counter({
  name: 'firebreak_alerts_deduplicated_total',
  help: 'Alerts dropped as duplicates of one already handled, by source.',
  labelNames: ['source'] as const,
  registers: [registry],
});

// ---- Backups (src/backups) ----
export const backupDuration = new Histogram({
  name: 'firebreak_backup_duration_seconds',
  help: 'Wall time of backup runs, by target and outcome.',
  labelNames: ['target', 'outcome'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
  registers: [registry],
});
export const backupRuns = new Counter({
  name: 'firebreak_backup_runs_total',
  help: 'Backup runs by target and outcome (succeeded, failed, interrupted).',
  labelNames: ['target', 'outcome'] as const,
  registers: [registry],
});
export const backupSizeBytes = new Gauge({
  name: 'firebreak_backup_size_bytes',
  help: 'Size of the newest good backup of each target, as stored (compressed and encrypted).',
  labelNames: ['target'] as const,
  registers: [registry],
});
export const backupLastSuccess = new Gauge({
  name: 'firebreak_backup_last_success_timestamp_seconds',
  help: 'Unix time the newest good (verified) backup of each target finished.',
  labelNames: ['target'] as const,
  registers: [registry],
});

// ---- Disaster recovery (src/dr) ----
export const drLastRtoSeconds = new Gauge({
  name: 'firebreak_dr_last_rto_seconds',
  help: 'Recovery time measured by the newest DR drill or restore (seconds from start to validated).',
  labelNames: ['target'] as const,
  registers: [registry],
});
export const drLastRpoSeconds = new Gauge({
  name: 'firebreak_dr_last_rpo_seconds',
  help: 'Data-loss window of the newest DR drill or restore (seconds between backup point and the start).',
  labelNames: ['target'] as const,
  registers: [registry],
});
export const drDrills = new Counter({
  name: 'firebreak_dr_drills_total',
  help: 'DR drills and restores by target, mode (dry-run, execute) and outcome (succeeded, failed, interrupted).',
  labelNames: ['target', 'mode', 'outcome'] as const,
  registers: [registry],
});
export const drLastDrillSucceeded = new Gauge({
  name: 'firebreak_dr_last_drill_success',
  help: '1 when the newest DR drill of the target succeeded, 0 when it failed or was interrupted.',
  labelNames: ['target'] as const,
  registers: [registry],
});

// ---- Approvals (collected from the approvals tables at scrape time when they exist) ----
export const approvalsPending = new Gauge({
  name: 'firebreak_approvals_pending',
  help: 'Change requests waiting for approval.',
  registers: [registry],
});

// ---- External APIs ----
export const slackApiCalls = new Counter({
  name: 'firebreak_slack_api_calls_total',
  help: 'Slack Web API calls by method and outcome (ok, error, rate_limited).',
  labelNames: ['method', 'outcome'] as const,
  registers: [registry],
});
export const slackRateLimited = new Counter({
  name: 'firebreak_slack_rate_limited_total',
  help: 'Slack Web API answers with HTTP 429, by method.',
  labelNames: ['method'] as const,
  registers: [registry],
});
export const pagerdutyApiCalls = new Counter({
  name: 'firebreak_pagerduty_api_calls_total',
  help: 'PagerDuty API calls by API (events, rest) and outcome (ok, error, rate_limited).',
  labelNames: ['api', 'outcome'] as const,
  registers: [registry],
});
export const pagerdutyRateLimited = new Counter({
  name: 'firebreak_pagerduty_rate_limited_total',
  help: 'PagerDuty answers with HTTP 429, by API.',
  labelNames: ['api'] as const,
  registers: [registry],
});

export const slackApiErrors = new Counter({
  name: 'firebreak_slack_api_errors_total',
  help: 'Failed Slack Web API calls (not 429s) by method and error (Slack\'s error code such as channel_not_found, or request_error, http_error, other).',
  labelNames: ['method', 'error'] as const,
  registers: [registry],
});

/** Records one Slack Web API call; outcome 'rate_limited' also counts a 429. */
export function observeSlackCall(method: string, outcome: 'ok' | 'error' | 'rate_limited'): void {
  slackApiCalls.inc({ method, outcome });
  if (outcome === 'rate_limited') slackRateLimited.inc({ method });
}

/** Records one PagerDuty call; outcome 'rate_limited' also counts a 429. */
export function observePagerDutyCall(api: 'events' | 'rest', outcome: 'ok' | 'error' | 'rate_limited'): void {
  pagerdutyApiCalls.inc({ api, outcome });
  if (outcome === 'rate_limited') pagerdutyRateLimited.inc({ api });
}

// ---- Scheduler and replicas (src/jobs/scheduler.ts) ----
export const schedulerLeader = new Gauge({
  name: 'firebreak_scheduler_leader',
  help: '1 on the replica that currently holds the scheduler lease.',
  registers: [registry],
});
export const scheduledSlots = new Counter({
  name: 'firebreak_scheduled_slots_total',
  help: 'Scheduled slots by task and outcome (enqueued, duplicate, succeeded, failed, missed).',
  labelNames: ['task', 'outcome'] as const,
  registers: [registry],
});
export const readinessFailures = new Counter({
  name: 'firebreak_readiness_failures_total',
  help: 'Readiness probes answered not ready (a required check down; draining not counted).',
  registers: [registry],
});

// ---- Jobs (src/jobs/queue.ts) ----
export const jobFailures = new Counter({
  name: 'firebreak_job_failures_total',
  help: 'Job attempts that failed (threw or ran past their ceiling), by queue; a failed attempt is retried until max attempts.',
  labelNames: ['queue'] as const,
  registers: [registry],
});
export const readinessCheckUp = new Gauge({
  name: 'firebreak_readiness_check_up',
  help: 'Result of the last readiness check of each dependency: 1 up, 0 down.',
  labelNames: ['check'] as const,
  registers: [registry],
});

async function tableExists(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  return rows[0]?.t != null;
}

/** Replaces every series of a labelled gauge at once, so labels of deleted things disappear. */
function replaceSeries<L extends string>(gauge: Gauge<L>, series: { labels: Record<L, string>; value: number }[]): void {
  gauge.reset();
  for (const s of series) gauge.set(s.labels as never, s.value);
}

/**
 * Reads the state-describing gauges from PostgreSQL: open incidents, pending approvals, the
 * newest verified backup per database, the newest finished DR drill per database. Tables owned
 * by other areas are read only when they exist, so a replica on an older schema still serves
 * the rest. Errors are swallowed per gauge: a scrape must not fail because one table is locked.
 */
export async function refreshStoredStateGauges(db: Queryable): Promise<void> {
  await Promise.all([
    (async () => {
      const { rows } = await db.query<{ severity: string; n: number }>(
        `SELECT s.severity, count(i.id)::int AS n
           FROM unnest(ARRAY['P0','P1','P2','P3','P4']) AS s(severity)
           LEFT JOIN incidents i ON i.severity = s.severity AND i.status <> 'resolved'
          GROUP BY s.severity`,
      );
      for (const r of rows) incidentsOpen.set({ severity: r.severity }, r.n);
    })().catch(() => {}),
    (async () => {
      if (!(await tableExists(db, 'change_requests'))) return;
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_requests WHERE status = 'pending'`);
      approvalsPending.set(rows[0]?.n ?? 0);
    })().catch(() => {}),
    (async () => {
      if (!(await tableExists(db, 'backups'))) return;
      const { rows } = await db.query<{ database: string; finished: number; bytes: string | null }>(
        `SELECT DISTINCT ON (database) database, extract(epoch FROM coalesce(finished_at, verified_at))::float8 AS finished, stored_bytes::text AS bytes
           FROM backups WHERE status = 'verified' AND coalesce(finished_at, verified_at) IS NOT NULL
          ORDER BY database, coalesce(finished_at, verified_at) DESC`,
      );
      replaceSeries(backupLastSuccess, rows.map((r) => ({ labels: { target: r.database }, value: r.finished })));
      replaceSeries(backupSizeBytes, rows.filter((r) => r.bytes !== null).map((r) => ({ labels: { target: r.database }, value: Number(r.bytes) })));
    })().catch(() => {}),
    (async () => {
      if (!(await tableExists(db, 'dr_runs'))) return;
      // Same labels and meaning as src/dr/service.ts sets when a run ends (target = the database,
      // cancelled counts as not passed), so a scrape on any replica agrees with the one that ran it.
      const { rows } = await db.query<{ target: string; status: string }>(
        `SELECT DISTINCT ON (coalesce(database, 'unknown')) coalesce(database, 'unknown') AS target, status
           FROM dr_runs WHERE status IN ('passed','failed','interrupted','cancelled')
          ORDER BY coalesce(database, 'unknown'), finished_at DESC NULLS LAST, id DESC`,
      );
      replaceSeries(drLastDrillSucceeded, rows.map((r) => ({ labels: { target: r.target }, value: r.status === 'passed' ? 1 : 0 })));
      const passed = await db.query<{ target: string; rto: number | null; rpo: number | null }>(
        `SELECT DISTINCT ON (coalesce(database, 'unknown')) coalesce(database, 'unknown') AS target, rto_ms / 1000.0::float8 AS rto, rpo_ms / 1000.0::float8 AS rpo
           FROM dr_runs WHERE status = 'passed' ORDER BY coalesce(database, 'unknown'), finished_at DESC NULLS LAST, id DESC`,
      );
      replaceSeries(drLastRtoSeconds, passed.rows.filter((r) => r.rto !== null).map((r) => ({ labels: { target: r.target }, value: Number(r.rto) })));
      replaceSeries(drLastRpoSeconds, passed.rows.filter((r) => r.rpo !== null).map((r) => ({ labels: { target: r.target }, value: Number(r.rpo) })));
    })().catch(() => {}),
  ]);
}
