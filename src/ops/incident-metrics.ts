import { Gauge, Histogram } from 'prom-client';
import type { Queryable } from '../db/pool.js';
import { registry } from './metrics.js';

/**
 * Incident response times and follow-up state, read from PostgreSQL at scrape time
 * (`refreshIncidentGauges`, called by `GET /metrics` next to refreshStoredStateGauges), so every
 * replica reports the same numbers whichever one did the work. Each is one small aggregate
 * query (a row per severity, or per severity and bucket), however many incidents there are.
 */

const SEVERITIES = ['P0', 'P1', 'P2', 'P3', 'P4'];

export const followupsOpen = new Gauge({
  name: 'firebreak_followups_open',
  help: 'Follow-ups open now, by the severity of their incident.',
  labelNames: ['severity'] as const,
  registers: [registry],
});
export const followupsOverdue = new Gauge({
  name: 'firebreak_followups_overdue',
  help: 'Follow-ups open past their due date (UTC), by the severity of their incident.',
  labelNames: ['severity'] as const,
  registers: [registry],
});

interface Series {
  severity: string;
  /** Cumulative counts, one per bound (value <= bound). */
  below: number[];
  count: number;
  sum: number;
}

/**
 * A Prometheus histogram whose buckets are counted by PostgreSQL, not observed in this
 * process: `replace` sets them from a query at scrape time. Over the whole table, so its
 * counts only grow (a cumulative histogram, as Prometheus expects) and rate()/histogram_quantile()
 * over a window give the distribution of what finished in that window.
 */
export class StoredHistogram extends Histogram<'severity'> {
  private series: Series[] = [];

  constructor(private readonly metricName: string, private readonly metricHelp: string, readonly bounds: number[]) {
    super({ name: metricName, help: metricHelp, labelNames: ['severity'], buckets: bounds, registers: [registry] });
  }

  replace(series: Series[]): void {
    this.series = series;
  }

  override async get(): ReturnType<Histogram<'severity'>['get']> {
    return this.getForPromString();
  }

  /** What the registry reads for the text format (prom-client's Histogram reads its own observations here). */
  async getForPromString(): ReturnType<Histogram<'severity'>['get']> {
    const values: Awaited<ReturnType<Histogram<'severity'>['get']>>['values'] = [];
    for (const s of this.series) {
      const at = (le: string, value: number) => {
        const labels: Record<string, string> = { severity: s.severity, le };
        values.push({ labels, value, metricName: `${this.metricName}_bucket` });
      };
      this.bounds.forEach((b, i) => at(String(b), s.below[i] ?? 0));
      at('+Inf', s.count);
      values.push({ labels: { severity: s.severity }, value: s.sum, metricName: `${this.metricName}_sum` });
      values.push({ labels: { severity: s.severity }, value: s.count, metricName: `${this.metricName}_count` });
    }
    // prom-client's typings declare `type` as a numeric enum it never exports; at run time it is the string.
    return { name: this.metricName, help: this.metricHelp, type: 'histogram' as never, aggregator: 'sum', collect: () => {}, values };
  }
}

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

export const incidentAckSeconds = new StoredHistogram(
  'firebreak_incident_time_to_acknowledge_seconds',
  'Time from declare to the first acknowledgement (MTTA) of every acknowledged incident, by severity.',
  [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 4 * HOUR, DAY],
);
export const incidentResolveSeconds = new StoredHistogram(
  'firebreak_incident_time_to_resolve_seconds',
  'Time from declare to resolve (MTTR) of every resolved incident, by severity.',
  [15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, DAY, 3 * DAY, 7 * DAY],
);
export const followupCloseSeconds = new StoredHistogram(
  'firebreak_followup_time_to_close_seconds',
  'Time from created to done of every follow-up closed done (cancelled ones are not counted), by the severity of its incident.',
  [DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 60 * DAY, 90 * DAY, 180 * DAY],
);

/** Bucket counts of `v` (seconds) per severity over the rows `fromSql` yields: a row per severity and bound. */
async function histogramSeries(db: Queryable, fromSql: string, bounds: number[]): Promise<Series[]> {
  const { rows } = await db.query<{ severity: string; o: string; below: number; n: number; sum: number }>(
    `WITH x AS (${fromSql})
     SELECT x.severity, u.o, count(*) FILTER (WHERE x.v <= u.b)::int AS below, count(*)::int AS n, coalesce(sum(x.v), 0)::float8 AS sum
       FROM x CROSS JOIN unnest($1::float8[]) WITH ORDINALITY AS u(b, o)
      GROUP BY x.severity, u.o ORDER BY x.severity, u.o`,
    [bounds],
  );
  const bySeverity = new Map<string, Series>();
  for (const r of rows) {
    const s = bySeverity.get(r.severity) ?? { severity: r.severity, below: [], count: r.n, sum: r.sum };
    s.below.push(r.below);
    bySeverity.set(r.severity, s);
  }
  return [...bySeverity.values()];
}

/**
 * Reads the follow-up gauges and the three histograms from PostgreSQL. Errors are swallowed per
 * metric, like refreshStoredStateGauges: a scrape must not fail because one table is locked.
 * `today` (UTC date) decides overdue: a follow-up due today is not overdue yet.
 */
export async function refreshIncidentGauges(db: Queryable, now: Date): Promise<void> {
  const today = now.toISOString().slice(0, 10);
  await Promise.all([
    (async () => {
      const { rows } = await db.query<{ severity: string; open: number; overdue: number }>(
        `SELECT s.severity, count(f.id)::int AS open, count(f.id) FILTER (WHERE f.due_on < $2::date)::int AS overdue
           FROM unnest($1::text[]) AS s(severity)
           LEFT JOIN (followups f JOIN incidents i ON i.id = f.incident_id AND f.status = 'open') ON i.severity = s.severity
          GROUP BY s.severity`,
        [SEVERITIES, today],
      );
      for (const r of rows) {
        followupsOpen.set({ severity: r.severity }, r.open);
        followupsOverdue.set({ severity: r.severity }, r.overdue);
      }
    })().catch(() => {}),
    (async () => {
      incidentAckSeconds.replace(await histogramSeries(db,
        `SELECT severity, extract(epoch FROM acknowledged_at - declared_at)::float8 AS v FROM incidents WHERE acknowledged_at IS NOT NULL`,
        incidentAckSeconds.bounds));
    })().catch(() => {}),
    (async () => {
      incidentResolveSeconds.replace(await histogramSeries(db,
        `SELECT severity, extract(epoch FROM resolved_at - declared_at)::float8 AS v FROM incidents WHERE resolved_at IS NOT NULL`,
        incidentResolveSeconds.bounds));
    })().catch(() => {}),
    (async () => {
      followupCloseSeconds.replace(await histogramSeries(db,
        `SELECT i.severity, extract(epoch FROM f.closed_at - f.created_at)::float8 AS v
           FROM followups f JOIN incidents i ON i.id = f.incident_id WHERE f.status = 'done' AND f.closed_at IS NOT NULL`,
        followupCloseSeconds.bounds));
    })().catch(() => {}),
  ]);
}
