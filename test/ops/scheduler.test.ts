import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { LeaseScheduler } from '../../src/jobs/scheduler.js';
import { acquireLease, leaseHolder, releaseLease } from '../../src/jobs/lease.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const log = createLogger({ level: 'silent' });
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('fb_sched');
});
afterAll(() => db.drop());

describe('leases', () => {
  it('one holder at a time; an expired lease goes to the next asker; release hands it over at once', async () => {
    const clock = new FakeClock('2026-03-01T00:00:00Z');
    expect(await acquireLease(db.pool, clock, 'l1', 'a', 30)).toBe(true);
    expect(await acquireLease(db.pool, clock, 'l1', 'b', 30)).toBe(false);
    expect(await acquireLease(db.pool, clock, 'l1', 'a', 30)).toBe(true);
    clock.advance(31_000);
    expect(await leaseHolder(db.pool, clock, 'l1')).toBeNull();
    expect(await acquireLease(db.pool, clock, 'l1', 'b', 30)).toBe(true);
    await releaseLease(db.pool, 'l1', 'a'); // not a's any more: no effect
    expect(await leaseHolder(db.pool, clock, 'l1')).toBe('b');
    await releaseLease(db.pool, 'l1', 'b');
    expect(await acquireLease(db.pool, clock, 'l1', 'a', 30)).toBe(true);
  });
});

describe('LeaseScheduler across two replicas', () => {
  it('runs each slot once, fails over when the leader stops renewing, reports missed slots, and hands the lease back on stop', async () => {
    const clock = new FakeClock('2026-03-01T09:59:30Z');
    const ran: { replica: string; slot: string }[] = [];
    const missed: string[] = [];
    const replica = (id: string) => {
      const jobs = new JobQueue(db.pool, clock, log, id);
      // Renewal timers are set far apart: the test drives rounds with renewNow() and the FakeClock.
      const scheduler = new LeaseScheduler({ pool: db.pool, clock, log, jobs, replicaId: id, leaseTtlSeconds: 600, renewSeconds: 500, catchUpSeconds: 3600, onMissed: (_t, slot) => void missed.push(slot.toISOString()) });
      scheduler.add({ name: 'test:hourly', cron: '0 * * * *', run: async (slot) => void ran.push({ replica: id, slot: slot.toISOString() }) });
      return { jobs, scheduler };
    };
    const a = replica('replica-a');
    const b = replica('replica-b');
    try {
      await a.scheduler.start();
      await b.scheduler.start();
      expect([a.scheduler.isLeader(), b.scheduler.isLeader()]).toEqual([true, false]);
      // The 09:00 slot passed before the task existed: nothing to catch up on a first start.
      await a.jobs.tick();
      expect(ran).toEqual([]);
      clock.advance(60_000); // 10:00:30
      await a.scheduler.renewNow();

      // The leader enqueued the current slot on taking the lease; a second enqueue (an
      // overlapping leader) is absorbed by the slot's dedupe key.
      await b.scheduler.enqueueDueSlots();
      await b.jobs.tick();
      await a.jobs.tick();
      expect(ran).toEqual([{ replica: 'replica-b', slot: '2026-03-01T10:00:00.000Z' }]);

      // Replica A dies (stops renewing). Once its lease expires, B's next round takes over,
      // runs the newest slot and reports the ones that fell into the gap.
      clock.advance(2.5 * 3600_000); // 12:30:30
      await b.scheduler.renewNow();
      expect(b.scheduler.isLeader()).toBe(true);
      await b.jobs.tick();
      expect(ran.map((r) => r.slot)).toEqual(['2026-03-01T10:00:00.000Z', '2026-03-01T12:00:00.000Z']);
      expect(missed).toEqual(['2026-03-01T11:00:00.000Z']);
      expect(await b.scheduler.lastRun('test:hourly')).toMatchObject({ slot: new Date('2026-03-01T12:00:00Z'), status: 'succeeded' });

      // A comes back while B leads: it stays a follower, and nothing runs twice.
      await a.scheduler.renewNow();
      expect(a.scheduler.isLeader()).toBe(false);
      await a.scheduler.enqueueDueSlots();
      await a.jobs.tick();
      expect(ran).toHaveLength(2);

      // B shuts down gracefully: the lease is released, so A leads at its next round, not after the TTL.
      await b.scheduler.stop();
      expect(await leaseHolder(db.pool, clock, 'scheduler')).toBeNull();
      await a.scheduler.renewNow();
      expect(a.scheduler.isLeader()).toBe(true);
      clock.advance(3600_000); // 13:30:30
      await a.scheduler.renewNow();
      await a.jobs.tick();
      expect(ran.at(-1)).toEqual({ replica: 'replica-a', slot: '2026-03-01T13:00:00.000Z' });
      expect(missed).toEqual(['2026-03-01T11:00:00.000Z']);
    } finally {
      await a.scheduler.stop();
      await b.scheduler.stop();
    }
  });

  it('requeues a job a dead replica was running, once its heartbeat expires, and a survivor runs it', async () => {
    const clock = new FakeClock('2026-07-01T00:00:00Z');
    const ranBy: string[] = [];
    let releaseHung!: () => void;
    const hung = new Promise<void>((r) => (releaseHung = r));
    const replica = (id: string, handler: () => Promise<void>) => {
      const jobs = new JobQueue(db.pool, clock, log, id);
      jobs.handle('orphan-test', handler);
      const scheduler = new LeaseScheduler({ pool: db.pool, clock, log, jobs, replicaId: id, leaseTtlSeconds: 60, renewSeconds: 50 });
      return { jobs, scheduler };
    };
    const a = replica('orph-a', () => hung); // a replica that dies mid-job
    const b = replica('orph-b', async () => void ranBy.push('orph-b'));
    try {
      await a.scheduler.start();
      await b.scheduler.start();
      const id = await a.jobs.enqueue('orphan-test', {}, { runAt: clock.now() });
      void a.jobs.tick();
      for (let i = 0; i < 100 && (await db.pool.query(`SELECT 1 FROM jobs WHERE id = $1 AND status = 'running'`, [id])).rowCount === 0; i++) await new Promise((r) => setTimeout(r, 10));

      // Alive: nothing to requeue, and no other replica can take the job.
      expect(await b.scheduler.requeueOrphanedJobs()).toBe(0);
      expect(await b.jobs.tick()).toBe(0);

      // A stops heartbeating (killed). After one TTL, B leads and requeues A's job, then runs it.
      clock.advance(61_000);
      await b.scheduler.renewNow();
      expect(b.scheduler.isLeader()).toBe(true);
      expect(await b.jobs.tick()).toBe(1);
      expect(ranBy).toEqual(['orph-b']);
      const row = (await db.pool.query(`SELECT status, last_error FROM jobs WHERE id = $1`, [id])).rows[0];
      expect(row.status).toBe('done');
      expect(row.last_error).toContain('replica orph-a stopped while running this job');
    } finally {
      releaseHung();
      await a.scheduler.stop();
      await b.scheduler.stop();
    }
  });

  it('refuses a duplicate task name and an invalid cron expression with a clear error', () => {
    const jobs = new JobQueue(db.pool, new FakeClock(), log, 'x');
    const s = new LeaseScheduler({ pool: db.pool, clock: new FakeClock(), log, jobs, replicaId: 'x' });
    s.add({ name: 't', cron: '* * * * *', run: async () => {} });
    expect(() => s.add({ name: 't', cron: '* * * * *', run: async () => {} })).toThrow('already registered');
    expect(() => s.add({ name: 'u', cron: 'every hour', run: async () => {} })).toThrow('not a valid cron expression');
  });
});

describe('housekeeping', () => {
  it('deletes old idempotency keys and finished jobs, keeps pending work and the newest run of each scheduled task', async () => {
    const { runHousekeeping } = await import('../../src/ops/housekeeping.js');
    const clock = new FakeClock('2026-06-01T00:00:00Z');
    const old = new Date('2026-05-01T00:00:00Z');
    const recent = new Date('2026-05-30T00:00:00Z');
    await db.pool.query(`INSERT INTO processed_requests (key, created_at) VALUES ('hk-old', $1), ('hk-new', $2)`, [old, recent]);
    const job = (key: string, queue: string, status: string, finished: Date | null, payload: object = {}) =>
      db.pool.query(`INSERT INTO jobs (queue, dedupe_key, payload, run_at, status, finished_at) VALUES ($1,$2,$3,$4,$5,$6)`, [queue, key, JSON.stringify(payload), old, status, finished]);
    await job('hk-done-old', 'hk', 'done', old);
    await job('hk-failed-old', 'hk', 'failed', old);
    await job('hk-pending-old', 'hk', 'pending', null);
    await job('hk-done-new', 'hk', 'done', recent);
    await job('hk-monthly-1', 'schedule', 'done', new Date('2026-03-01T00:00:00Z'), { task: 'hk:monthly', slot: '2026-03-01T00:00:00Z' });
    await job('hk-monthly-2', 'schedule', 'done', old, { task: 'hk:monthly', slot: '2026-04-01T00:00:00Z' });

    const r = await runHousekeeping(db.pool, clock, 14);
    const keys = (await db.pool.query<{ dedupe_key: string }>(`SELECT dedupe_key FROM jobs WHERE dedupe_key LIKE 'hk-%' ORDER BY dedupe_key`)).rows.map((x) => x.dedupe_key);
    expect(keys).toEqual(['hk-done-new', 'hk-monthly-2', 'hk-pending-old']);
    const reqs = (await db.pool.query<{ key: string }>(`SELECT key FROM processed_requests WHERE key LIKE 'hk-%'`)).rows.map((x) => x.key);
    expect(reqs).toEqual(['hk-new']);
    expect(r.requestsDeleted).toBe(1);
    // Also old finished runs left by the tests above; never their task's newest run.
    expect(r.jobsDeleted).toBeGreaterThanOrEqual(3);
    const newestHourly = await db.pool.query(`SELECT 1 FROM jobs WHERE queue = 'schedule' AND payload->>'task' = 'test:hourly'`);
    expect(newestHourly.rowCount).toBe(1);
  });
});
