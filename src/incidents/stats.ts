import type { Queryable } from '../db/pool.js';
import type { Clock } from '../clock.js';
import { followupCounts, incidentTimes, type SeverityFollowups, type SeverityTimes } from './stats-store.js';

export type { DurationStats, SeverityFollowups, SeverityTimes } from './stats-store.js';

/** A look-back period: `30d`, `12w`. */
export interface StatsPeriod {
  label: string;
  days: number;
}

export const DEFAULT_PERIOD = '30d';
/** Ten years: further back is a typo, not a question. */
const MAX_DAYS = 3650;

/** Reads `30d` / `12w` (case-insensitive); undefined when it is not a period. */
export function parsePeriod(text: string | undefined): StatsPeriod | undefined {
  const m = /^(\d{1,5})([dw])$/i.exec((text ?? DEFAULT_PERIOD).trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const days = m[2]!.toLowerCase() === 'w' ? n * 7 : n;
  if (n < 1 || days > MAX_DAYS) return undefined;
  return { label: `${n}${m[2]!.toLowerCase()}`, days };
}

export interface IncidentStats {
  period: StatsPeriod;
  from: Date;
  to: Date;
  times: SeverityTimes[];
  followups: SeverityFollowups[];
}

/**
 * The "insights" behind `/incident stats`: MTTA/MTTM/MTTR distributions per severity for the
 * incidents declared in the period, and the follow-ups of each severity (open and overdue now,
 * time to close for those closed in the period).
 */
export async function incidentStats(deps: { db: Queryable; clock: Clock }, period: StatsPeriod): Promise<IncidentStats> {
  const to = deps.clock.now();
  const from = new Date(to.getTime() - period.days * 86_400_000);
  const today = to.toISOString().slice(0, 10);
  const [times, followups] = await Promise.all([incidentTimes(deps.db, from, to), followupCounts(deps.db, from, to, today)]);
  return { period, from, to, times, followups };
}
