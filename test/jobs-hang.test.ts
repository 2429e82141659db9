/**
 * Found by bench/chaos (default run, seed 1818): four jobs stayed `running` from a PostgreSQL
 * restart to the end of the run (~7 minutes) while their replica was alive and kept renewing
 * their claims; nothing in PostgreSQL waited on them. A job's attempt could wait for ever: pg
 * waits for a pool connection without limit, and the runner awaited its handler without one.
 * Now a connection wait fails after the pool's acquire timeout, and an attempt that outlives
 * its ceiling is failed and retried, its claim given back.
 * The same run with per-job debug lines (claimed / handler returned) found the rest: the write
 * of an attempt's outcome failed during the restart, and the job stayed `running` until its
 * five-minute claim ran out (a reminder fired minutes late; a job that had succeeded was then
 * failed by the error path and ran again). The outcome is now retried until PostgreSQL is back.
 */
import net from 'node:net';
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

/** A TCP relay to PostgreSQL that can drop every connection and refuse new ones: an outage. */
async function outageProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let down = false;
  let refused = 0;
  const server = net.createServer((client) => {
    if (down) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    get refused() {
      return refused;
    },
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('an outcome written while PostgreSQL is away', () => {
  it('is written when it returns: the job neither stays running until its claim lapses nor runs again', async () => {
    const proxy = await outageProxy(new URL(db.url));
    const pool = createPool(proxy.url, 2, 2_000);
    pool.on('error', () => {});
    // Claims last 5 minutes: without the retry the job would sit `running` that long.
    const q = new JobQueue(pool, systemClock, log, 'replica-outage', 300);
    let runs = 0;
    q.handle('remind', async () => {
      runs++;
      // The work is done; PostgreSQL goes away before the outcome is written (a restart).
      proxy.cut();
    });
    const id = (await q.enqueue('remind', {}, { runAt: new Date(Date.now() - 1000) }))!;
    try {
      const ran = q.tick(1);
      await expect.poll(() => proxy.refused, { timeout: 10_000, interval: 50 }).toBeGreaterThan(1);
      expect((await row(id)).status).toBe('running');
      proxy.restore();
      expect(await ran).toBe(1);
      expect(await row(id)).toMatchObject({ status: 'done', locked_by: null });
      expect(runs).toBe(1);
    } finally {
      proxy.restore();
      await pool.end().catch(() => {});
      await proxy.close();
    }
  });

  it('is dropped when the claim was retaken meanwhile: the new holder decides', async () => {
    const q = new JobQueue(db.pool, systemClock, log, 'replica-slow', 60);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.handle('slow', () => gate);
    const id = (await q.enqueue('slow', {}, { runAt: new Date(Date.now() - 1000) }))!;
    const ran = q.tick(1);
    await expect.poll(async () => (await row(id)).status, { timeout: 5_000, interval: 50 }).toBe('running');
    // Another replica retook it after this one's claim lapsed (say, a long GC pause).
    await db.pool.query(`UPDATE jobs SET locked_by = 'replica-other', attempts = attempts + 1 WHERE id = $1`, [id]);
    release();
    await ran;
    expect(await row(id)).toMatchObject({ status: 'running', locked_by: 'replica-other' });
  });
});
