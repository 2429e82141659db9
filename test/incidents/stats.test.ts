import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { parsePeriod } from '../../src/incidents/stats.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * `/incident stats` and the incident/follow-up series of GET /metrics on incidents and
 * follow-ups seeded with SQL at known times, so every median and bucket is exact.
 */
const NOW = new Date('2026-12-03T12:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const after = (d: Date, ms: number | null) => (ms === null ? null : new Date(d.getTime() + ms));

let t: TestApp;
let p1a: number;

async function incident(severity: string, declaredAt: Date, ack: number | null, mitigated: number | null, resolved: number | null): Promise<number> {
  const { rows } = await t.db.pool.query(
    `INSERT INTO incidents (title, severity, status, declared_by, declared_at, acknowledged_at, mitigated_at, resolved_at)
     VALUES ($1, $2, $3, 'U0ALICE', $4, $5, $6, $7) RETURNING id`,
    [`${severity} at ${declaredAt.toISOString()}`, severity, resolved === null ? 'investigating' : 'resolved', declaredAt, after(declaredAt, ack), after(declaredAt, mitigated), after(declaredAt, resolved)],
  );
  return Number(rows[0].id);
}

async function followup(incidentId: number, f: { status?: string; due?: string | null; created: Date; closed?: Date | null }): Promise<void> {
  await t.db.pool.query(
    `INSERT INTO followups (incident_id, title, owner_user_id, due_on, status, source, created_by, created_at, closed_at)
     VALUES ($1, 'Add an index', 'U0BOB', $2, $3, 'command', 'U0ALICE', $4, $5)`,
    [incidentId, f.due ?? null, f.status ?? 'open', f.created, f.closed ?? null],
  );
}

beforeAll(async () => {
  t = await startTestApp({ clock: new FakeClock(NOW) });
  // P1 in the last 30 days: MTTA 2, 4, 6 min; MTTM 20, 40 min (one never mitigated); MTTR 60, 120 min (one open).
  p1a = await incident('P1', ago(10 * DAY), 2 * MIN, 20 * MIN, 60 * MIN);
  await incident('P1', ago(5 * DAY), 4 * MIN, 40 * MIN, 120 * MIN);
  await incident('P1', ago(1 * DAY), 6 * MIN, null, null);
  // P2 40 days ago: outside 30d, inside 12w.
  await incident('P2', ago(40 * DAY), 30_000, 10 * MIN, 30 * MIN);
  // Follow-ups of P1: overdue, due today (not overdue), done in 4 d and 2 d (median 3 d),
  // cancelled (never counted), done long ago (outside the period).
  await followup(p1a, { due: '2026-12-02', created: ago(9 * DAY) });
  await followup(p1a, { due: '2026-12-03', created: ago(9 * DAY) });
  await followup(p1a, { status: 'done', created: ago(10 * DAY), closed: ago(6 * DAY) });
  await followup(p1a, { status: 'done', created: ago(5 * DAY), closed: ago(3 * DAY) });
  await followup(p1a, { status: 'cancelled', due: '2026-11-01', created: ago(9 * DAY), closed: ago(8 * DAY) });
  await followup(p1a, { status: 'done', created: ago(60 * DAY), closed: ago(45 * DAY) });
});
afterAll(() => t.stop());

const reply = async (line: string) => {
  const { responseId } = await t.slash(line);
  await t.settle();
  return t.slack.replies(responseId).join('\n');
};

describe('/incident stats', () => {
  it('gives exact medians, p90 and max per severity over the default 30 days, and the follow-ups', async () => {
    const text = await reply('/incident stats');
    for (const line of [
      'Incident stats, last 30d',
      '*P1* · 3 incidents',
      // percentile_cont: median of 2, 4, 6 min is 4; p90 is 4 + 0.8 × 2 = 5.6 min.
      'MTTA median *4m 00s* · p90 5m 36s · max 6m 00s (3)',
      'MTTM median *30m 00s* · p90 38m 00s · max 40m 00s (2)',
      'MTTR median *1h 30m* · p90 1h 54m · max 2h 00m (2)',
      'Follow-ups: 2 open · 1 overdue · 2 done, median to close 3d 0h',
    ]) expect(text).toContain(line);
    expect(text).not.toContain('*P2*');
  });

  it('reads weeks, and the longer period takes in the older incident', async () => {
    const text = await reply('/incident stats 12w');
    expect(text).toContain('last 12w');
    expect(text).toContain('*P2* · 1 incident\nMTTA median *30s* · p90 30s · max 30s (1)');
    expect(text).toContain('*P1* · 3 incidents');
  });

  it('answers a bad period with how to write one, escaped', async () => {
    expect(await reply('/incident stats 30x')).toContain('`30x` is not a period I can read');
    expect(await reply('/incident stats <!channel>')).toContain('`&lt;!channel&gt;` is not a period');
    expect(await reply('/incident stats 0d')).toContain('is not a period');
    expect(parsePeriod('99999d')).toBeUndefined();
    expect(parsePeriod('2W')).toEqual({ label: '2w', days: 14 });
  });

  it('is listed in /incident help', async () => {
    expect(await reply('/incident help')).toContain('/incident stats');
  });
});

describe('GET /metrics: incidents and follow-ups', () => {
  async function scrape(): Promise<string> {
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  }
  const line = (text: string, name: string, labels: Record<string, string>) =>
    text.split('\n').find((l) => (l.startsWith(name + '{')) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  const value = (text: string, name: string, labels: Record<string, string>) => {
    const l = line(text, name, labels);
    return l === undefined ? undefined : Number(l.slice(l.lastIndexOf(' ') + 1));
  };

  it('reports open and overdue follow-ups per severity, read from PostgreSQL at scrape time', async () => {
    const text = await scrape();
    expect(value(text, 'firebreak_followups_open', { severity: 'P1' })).toBe(2);
    expect(value(text, 'firebreak_followups_overdue', { severity: 'P1' })).toBe(1);
    expect(value(text, 'firebreak_followups_open', { severity: 'P2' })).toBe(0);
    expect(text).toContain('# TYPE firebreak_followups_open gauge');
  });

  it('exports MTTA, MTTR and time-to-close as cumulative histograms per severity', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE firebreak_incident_time_to_acknowledge_seconds histogram');
    const ack = (le: string, severity = 'P1') => value(text, 'firebreak_incident_time_to_acknowledge_seconds_bucket', { severity, le });
    // P1 acknowledged after 120, 240, 360 s.
    expect([ack('60'), ack('300'), ack('900'), ack('+Inf')]).toEqual([0, 2, 3, 3]);
    expect(value(text, 'firebreak_incident_time_to_acknowledge_seconds_sum', { severity: 'P1' })).toBe(720);
    expect(value(text, 'firebreak_incident_time_to_acknowledge_seconds_count', { severity: 'P1' })).toBe(3);
    expect(ack('60', 'P2')).toBe(1);
    // Resolved: P1 after 3600 and 7200 s (the open one is not counted).
    const res = (le: string) => value(text, 'firebreak_incident_time_to_resolve_seconds_bucket', { severity: 'P1', le });
    expect([res('1800'), res('3600'), res('7200'), res('+Inf')]).toEqual([0, 1, 2, 2]);
    // Done follow-ups: 4 d, 2 d and 15 d; the cancelled one is not counted.
    const ttc = (le: string) => value(text, 'firebreak_followup_time_to_close_seconds_bucket', { severity: 'P1', le });
    expect([ttc(String(3 * 86400)), ttc(String(7 * 86400)), ttc(String(14 * 86400)), ttc(String(30 * 86400))]).toEqual([1, 2, 2, 3]);
    expect(value(text, 'firebreak_followup_time_to_close_seconds_count', { severity: 'P1' })).toBe(3);
  });

  it('follows the database: a follow-up closed elsewhere is gone from the next scrape', async () => {
    await t.db.pool.query(`UPDATE followups SET status = 'done', closed_at = $1 WHERE status = 'open' AND due_on = '2026-12-02'`, [NOW]);
    const text = await scrape();
    expect(value(text, 'firebreak_followups_open', { severity: 'P1' })).toBe(1);
    expect(value(text, 'firebreak_followups_overdue', { severity: 'P1' })).toBe(0);
    expect(value(text, 'firebreak_followup_time_to_close_seconds_count', { severity: 'P1' })).toBe(4);
  });
});
