/**
 * Found by bench/chaos (default run, seed 1818): four jobs stayed `running` from a PostgreSQL
 * restart to the end of the run (~7 minutes) while their replica was alive and kept renewing
 * their claims; nothing in PostgreSQL waited on them. A job's attempt could wait for ever: pg
 * waits for a pool connection without limit, and the runner awaited its handler without one.
 * Now a connection wait fails after the pool's acquire timeout, and an attempt that outlives
 * its ceiling is failed and retried, its claim given back.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import { JobQueue } from '../src/jobs/queue.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
const log = createLogger({ level: 'silent' });
beforeAll(async () => {
  db = await createTestDatabase('fb_jobhang');
});
afterAll(() => db.drop());

const row = async (id: number) =>
  (await db.pool.query<{ status: string; locked_by: string | null; last_error: string | null }>('SELECT status, locked_by, last_error FROM jobs WHERE id = $1', [id])).rows[0]!;

describe('a connection lost while work holds it', () => {
  it('makes the next caller fail after the acquire timeout instead of waiting for ever', async () => {
    const pool = createPool(db.url, 1, 300);
    const held = await pool.connect();
    try {
      const { rows } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // Its holder never gives it back (work stuck elsewhere): the pool is full of a dead client.
      const started = performance.now();
      const err = await pool.query('SELECT 1').then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/timeout/i);
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      held.release(true);
      await pool.end();
    }
  });
});

describe('a job whose handler never returns', () => {
  it('is failed at its ceiling, its claim given back, and the queue moves on', async () => {
    // The handler waits for a connection from a pool whose only client is gone for good, on a
    // pool without an acquire timeout: pg's own behaviour before this fix.
    const stuckPool = new pg.Pool({ connectionString: db.url, max: 1 });
    stuckPool.on('error', () => {});
    const leaked = await stuckPool.connect();
    const q = new JobQueue(db.pool, systemClock, log, 'replica-hang', 60);
    q.handle('hang', async () => {
      const c = await stuckPool.connect();
      c.release();
    }, { maxRunSeconds: 1, retryDelayMs: () => 3_600_000 });
    let after = false;
    q.handle('after', async () => {
      after = true;
    });
    const hang = (await q.enqueue('hang', {}, { runAt: new Date(Date.now() - 1000) }))!;
    await q.enqueue('after', {}, { runAt: new Date() });
    q.start(20, 1);
    try {
      await expect.poll(async () => (await row(hang)).last_error, { timeout: 10_000, interval: 100 }).toMatch(/ceiling/);
      expect(await row(hang)).toMatchObject({ status: 'pending', locked_by: null });
      // One worker slot: the next job ran, so the stuck attempt no longer holds it.
      await expect.poll(() => after, { timeout: 10_000, interval: 50 }).toBe(true);
    } finally {
      await q.stop();
      leaked.release(true);
      await stuckPool.end().catch(() => {});
    }
  });

  it('has no ceiling on a queue that opts out with Infinity (long backups and restores): the attempt finishes and counts once', async () => {
    const q = new JobQueue(db.pool, systemClock, log, 'replica-long', 60);
    let runs = 0;
    q.handle('long', async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 300));
    }, { maxRunSeconds: Infinity, retryDelayMs: () => 3_600_000 });
    const id = (await q.enqueue('long', {}, { runAt: new Date(Date.now() - 1000) }))!;
    expect(await q.tick()).toBe(1);
    expect(await row(id)).toMatchObject({ status: 'done' });
    expect(runs).toBe(1);
  });
});
