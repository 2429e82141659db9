/**
 * The pitr area's schedules, through the real lease scheduler, a real cluster and real pgBackRest:
 * with the pitr section enabled and no `schedule` given, full (Sunday 01:15), diff (other days
 * 01:15), incr (hourly at :45) and the watch are registered with the documented crons; each due
 * slot makes exactly one backup of its type across two replicas sharing one database, followed by
 * an audited `pgbackrest expire`; configured crons replace the defaults and `''` turns a type off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startCluster, type TestCluster } from './cluster.js';
import { setupStanza } from '../../src/pitr/flows.js';
import { FakeClock } from '../../src/clock.js';
import { SCHEDULE_QUEUE, type LeaseScheduler } from '../../src/jobs/scheduler.js';

let c: TestCluster;
let a: TestApp;
let b: TestApp;
// A Sunday, 30 s before the default full slot.
const clock = new FakeClock('2026-11-29T01:14:30Z');

/** The cluster's pitr section without `schedule`, so the app's own config parsing supplies the defaults. */
const pitrSection = (): Record<string, unknown> => {
  const section: Record<string, unknown> = { ...c.config };
  delete section.schedule;
  return section;
};

const backupsIn = async (t: TestApp) =>
  (await t.db.pool.query<{ kind: string; detail: string; status: string; requested_by: string }>(
    `SELECT kind, detail, status, requested_by FROM pitr_runs WHERE kind IN ('backup', 'expire') ORDER BY id`,
  )).rows;

/** pgBackRest's own words for any failed run, so a failure under load says why. */
const failures = async (t: TestApp) =>
  JSON.stringify((await t.db.pool.query(`SELECT kind, detail, error FROM pitr_runs WHERE status <> 'succeeded'`)).rows);

/** The distinct pitr tasks that have a job for `slot` (enqueued, whether or not run yet). */
const tasksAt = async (t: TestApp, slot: string) =>
  (await t.db.pool.query<{ task: string }>(
    `SELECT DISTINCT payload->>'task' AS task FROM jobs WHERE queue = $1 AND payload->>'task' LIKE 'pitr:%' AND (payload->>'slot')::timestamptz = $2 ORDER BY 1`,
    [SCHEDULE_QUEUE, slot],
  )).rows.map((r) => r.task);

/** Both replicas enqueue what is due, then both job loops run until neither finds work. */
async function bothReplicasRunDueSlots(): Promise<void> {
  const replicas = [a, b];
  await Promise.all(replicas.map((t) => (t.app.ctx.scheduler as LeaseScheduler).enqueueDueSlots()));
  for (let round = 0; round < 10; round++) {
    const ran = await Promise.all(replicas.map((t) => t.app.ctx.jobs.tick()));
    if (ran.every((n) => !n)) return;
  }
}

beforeAll(async () => {
  c = await startCluster({ stanza: 'sched' });
  await setupStanza(c.config);
  a = await startTestApp({ clock, config: { pitr: pitrSection() } });
  b = await startTestApp({ clock, config: a.config, shared: { db: a.db, slack: a.slack } });
}, 120_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  c?.destroy();
});

describe('scheduled physical backups', () => {
  it('defaults to the documented crons: full weekly, diff on the other days, incr hourly, watch every minute', () => {
    expect(a.config.pitr.schedule).toEqual({ full: '15 1 * * 0', diff: '15 1 * * 1-6', incr: '45 * * * *', watch: '* * * * *' });
  });

  it('runs each due slot once across two replicas, with its backup type, then expires', async () => {
    // Sunday 01:15: the full slot (and the watch); no diff on a Sunday, no incr at :15.
    clock.set(new Date('2026-11-29T01:15:00Z'));
    await bothReplicasRunDueSlots();
    expect(await tasksAt(a, '2026-11-29T01:15:00Z')).toEqual(['pitr:full:sched', 'pitr:watch:sched']);
    expect(await backupsIn(a), await failures(a)).toEqual([
      { kind: 'backup', detail: 'full', status: 'succeeded', requested_by: 'firebreak-schedule' },
      { kind: 'expire', detail: expect.any(String), status: 'succeeded', requested_by: 'firebreak-schedule' },
    ]);
    const sa = a.app.ctx.scheduler as LeaseScheduler;
    expect((await sa.lastRun('pitr:full:sched'))?.status).toBe('succeeded');
    expect(await sa.lastRun('pitr:diff:sched')).toBeNull();
    expect(await sa.lastRun('pitr:incr:sched')).toBeNull();

    // 01:45: the hourly incr, once.
    clock.set(new Date('2026-11-29T01:45:00Z'));
    await bothReplicasRunDueSlots();
    expect(await tasksAt(a, '2026-11-29T01:45:00Z')).toEqual(['pitr:incr:sched', 'pitr:watch:sched']);

    // Monday 00:45 (incr), then Monday 01:15: the diff, not a full.
    clock.set(new Date('2026-11-30T00:45:00Z'));
    await bothReplicasRunDueSlots();
    clock.set(new Date('2026-11-30T01:15:00Z'));
    await bothReplicasRunDueSlots();
    expect(await tasksAt(a, '2026-11-30T01:15:00Z')).toEqual(['pitr:diff:sched', 'pitr:watch:sched']);

    const backups = (await backupsIn(a)).filter((r) => r.kind === 'backup');
    expect(backups.map((r) => [r.detail, r.status])).toEqual([['full', 'succeeded'], ['incr', 'succeeded'], ['incr', 'succeeded'], ['diff', 'succeeded']]);
    // Every scheduled backup is followed by an expire (retention), each recorded once.
    expect((await backupsIn(a)).map((r) => r.kind)).toEqual(['backup', 'expire', 'backup', 'expire', 'backup', 'expire', 'backup', 'expire']);
    // What pgBackRest itself reported making (read back from its info after each run) has the scheduled type.
    const made = (await a.db.pool.query<{ types: string[] }>(
      `SELECT array(SELECT l->>'type' FROM jsonb_array_elements(result->'labels') l) AS types FROM pitr_runs WHERE kind = 'backup' ORDER BY id`,
    )).rows.map((r) => r.types);
    expect(made).toEqual([['full'], ['incr'], ['incr'], ['diff']]);
  }, 300_000);

  it('configured crons replace the defaults, and an empty one turns that type off', async () => {
    const own = new FakeClock('2026-12-01T02:59:30Z'); // a Tuesday
    const t = await startTestApp({
      clock: own,
      config: { pitr: { ...pitrSection(), schedule: { full: '0 3 * * 2', diff: '', incr: '20 * * * *', watch: '*/5 * * * *' } } },
    });
    try {
      const s = t.app.ctx.scheduler as LeaseScheduler;
      const due = async (at: string) => {
        own.set(new Date(at));
        await s.enqueueDueSlots();
        return tasksAt(t, at);
      };
      expect(await due('2026-12-01T03:00:00Z')).toEqual(['pitr:full:sched', 'pitr:watch:sched']);
      await t.app.ctx.jobs.tick();
      expect((await backupsIn(t)).filter((r) => r.kind === 'backup').map((r) => [r.detail, r.status])).toEqual([['full', 'succeeded']]);
      // The watch is every 5 minutes now, not every minute.
      expect(await due('2026-12-01T03:03:00Z')).toEqual([]);
      expect(await due('2026-12-01T03:20:00Z')).toEqual(['pitr:incr:sched', 'pitr:watch:sched']);
      // The default incr minute and the default diff time are no slots any more.
      expect(await due('2026-12-01T03:45:00Z')).toEqual(['pitr:watch:sched']);
      expect(await due('2026-12-02T01:15:00Z')).toEqual(['pitr:watch:sched']);
      expect(await s.lastRun('pitr:diff:sched')).toBeNull();
    } finally {
      await t.stop();
    }
  }, 300_000);
});
