import type { Queryable } from '../db/pool.js';
import { SEVERITIES, type Severity } from './config.js';

/** count, median, p90 and max of one duration, in milliseconds (null when count is 0). */
export interface DurationStats {
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
  maxMs: number | null;
}

export interface SeverityTimes {
  severity: Severity;
  /** Incidents declared in the period. */
  incidents: number;
  mtta: DurationStats;
  mttm: DurationStats;
  mttr: DurationStats;
}

export interface SeverityFollowups {
  severity: Severity;
  /** Open now, whatever the period. */
  open: number;
  /** Open now and due before today (UTC). */
  overdue: number;
  /** Done (not cancelled) within the period, and the median time from created to closed. */
  closed: number;
  medianCloseMs: number | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const stats = (r: Record<string, unknown>, m: string): DurationStats => ({
  count: Number(r[`${m}_n`]),
  medianMs: num(r[`${m}_p50`]),
  p90Ms: num(r[`${m}_p90`]),
  maxMs: num(r[`${m}_max`]),
});

/**
 * MTTA, MTTM and MTTR of the incidents declared in [from, to), per severity (every severity,
 * zero rows included). Percentiles are continuous (interpolated), as PostgreSQL's
 * percentile_cont computes them: the median of 10 and 20 minutes is 15.
 */
export async function incidentTimes(db: Queryable, from: Date, to: Date): Promise<SeverityTimes[]> {
  const cols = (m: string) => `count(i.${m})::int AS ${m}_n,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY i.${m}) AS ${m}_p50,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY i.${m}) AS ${m}_p90,
      max(i.${m}) AS ${m}_max`;
  const { rows } = await db.query(
    `WITH i AS (
       SELECT severity,
              extract(epoch FROM acknowledged_at - declared_at)::float8 * 1000 AS mtta,
              extract(epoch FROM mitigated_at - declared_at)::float8 * 1000 AS mttm,
              extract(epoch FROM resolved_at - declared_at)::float8 * 1000 AS mttr
         FROM incidents WHERE declared_at >= $1 AND declared_at < $2)
     SELECT s.severity, count(i.severity)::int AS incidents, ${cols('mtta')}, ${cols('mttm')}, ${cols('mttr')}
       FROM unnest($3::text[]) AS s(severity) LEFT JOIN i ON i.severity = s.severity
      GROUP BY s.severity ORDER BY s.severity`,
    [from, to, SEVERITIES],
  );
  return rows.map((r) => ({
    severity: r.severity as Severity, incidents: Number(r.incidents),
    mtta: stats(r, 'mtta'), mttm: stats(r, 'mttm'), mttr: stats(r, 'mttr'),
  }));
}

/**
 * Follow-ups by the severity of their incident: open and overdue now (`today` is the UTC date,
 * a follow-up due today is not overdue yet), and those closed done within [from, to) with the
 * median time from created to closed.
 */
export async function followupCounts(db: Queryable, from: Date, to: Date, today: string): Promise<SeverityFollowups[]> {
  const { rows } = await db.query(
    `SELECT s.severity,
            count(f.id) FILTER (WHERE f.status = 'open')::int AS open,
            count(f.id) FILTER (WHERE f.status = 'open' AND f.due_on < $4::date)::int AS overdue,
            count(f.id) FILTER (WHERE f.status = 'done' AND f.closed_at >= $1 AND f.closed_at < $2)::int AS closed,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.closed_at - f.created_at)::float8 * 1000)
              FILTER (WHERE f.status = 'done' AND f.closed_at >= $1 AND f.closed_at < $2) AS close_p50
       FROM unnest($3::text[]) AS s(severity)
       LEFT JOIN (followups f JOIN incidents i ON i.id = f.incident_id) ON i.severity = s.severity
      GROUP BY s.severity ORDER BY s.severity`,
    [from, to, SEVERITIES, today],
  );
  return rows.map((r) => ({
    severity: r.severity as Severity, open: Number(r.open), overdue: Number(r.overdue), closed: Number(r.closed), medianCloseMs: num(r.close_p50),
  }));
}
