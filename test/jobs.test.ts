import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueue, type Job } from '../src/jobs/queue.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { logContext, withRequestContext } from '../src/ops/request-context.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
const log = createLogger({ level: 'silent' });
beforeAll(async () => {
  db = await createTestDatabase('fb_jobs');
});
afterAll(() => db.drop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (id: number) => (await db.pool.query('SELECT status FROM jobs WHERE id = $1', [id])).rows[0].status as string;

describe('the job queue', () => {
  it('runs other jobs while a long one is in hand', async () => {
    const q = new JobQueue(db.pool, systemClock, log, 'replica-a');
    let release!: () => void;
    const longDone = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    q.handle('long', async () => {
      ran.push('long');
      await longDone;
    });
    q.handle('quick', async () => void ran.push('quick'));
    const long = (await q.enqueue('long', {}, { runAt: new Date(Date.now() - 1000) }))!;
    const quick = (await q.enqueue('quick', {}, { runAt: new Date() }))!;
    q.start(20, 2);
    try {
      await expect.poll(() => status(quick), { timeout: 5000 }).toBe('done');
      expect(await status(long)).toBe('running');
      // Both were taken at once (two slots), so which handler started first is not the point.
      expect([...ran].sort()).toEqual(['long', 'quick']);
    } finally {
      release();
      await q.stop();
    }
    expect(await status(long)).toBe('done');
  });

  it('renews the claim of a running job so no other replica takes it, but a dead replica\'s claim lapses', async () => {
    const a = new JobQueue(db.pool, systemClock, log, 'replica-a', 1.5);
    const b = new JobQueue(db.pool, systemClock, log, 'replica-b', 1.5);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const runs: string[] = [];
    a.handle('backup', async (j: Job) => {
      runs.push(`a:${j.id}`);
      await gate;
    });
    b.handle('backup', async (j: Job) => void runs.push(`b:${j.id}`));
    const id = (await a.enqueue('backup', {}, { runAt: new Date() }))!;
    const first = a.tick(1);
    await expect.poll(() => runs.length).toBe(1);
    await sleep(2600); // well past the 1.5 s claim: only renewal keeps it
    expect(await b.tick(1)).toBe(0);
    release();
    await first;
    expect(runs).toEqual([`a:${id}`]);
    expect(await status(id)).toBe('done');

    // A replica that died mid-job renews nothing: its claim lapses and a survivor runs the job.
    const orphan = (await a.enqueue('backup', {}, { runAt: new Date() }))!;
    await db.pool.query(`UPDATE jobs SET status = 'running', locked_by = 'dead', locked_until = now() - interval '1 second', attempts = 1 WHERE id = $1`, [orphan]);
    expect(await b.tick(1)).toBe(1);
    expect(runs).toEqual([`a:${id}`, `b:${orphan}`]);
  });

  it('runs a job under the id of the request that enqueued it, whoever claims it', async () => {
    const q = new JobQueue(db.pool, systemClock, log, 'replica-a');
    const seen: (string | undefined)[] = [];
    q.handle('setup', async () => void seen.push(logContext().requestId));
    await withRequestContext({ requestId: 'req-declare' }, () => q.enqueue('setup', {}, { runAt: new Date() }));
    await q.enqueue('setup', {}, { runAt: new Date() });
    // The poll loop runs outside any request, or inside another one's context.
    await withRequestContext({ requestId: 'req-other' }, () => q.tick(2));
    expect(seen).toEqual(['req-declare', 'req-other']);
    const claimed = await q.enqueueClaimed('setup', [{ key: 'k1', payload: {}, requestId: 'req-one' }, { key: 'k2', payload: {}, requestId: 'req-two' }], { runAt: new Date() });
    expect(claimed.every((id) => typeof id === 'number')).toBe(true);
    await q.tick(2);
    expect(seen.slice(2)).toEqual(['req-one', 'req-two']);
  });
});
