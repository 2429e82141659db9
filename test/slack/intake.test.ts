/**
 * Record before acknowledging: a Slack request is in PostgreSQL (idempotency key and job)
 * when its 200 leaves, and a request PostgreSQL cannot take is never answered as if it were.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.stop());

const stored = async (key: string) =>
  (await t.db.pool.query(`SELECT j.queue FROM jobs j JOIN processed_requests p ON p.key = j.dedupe_key WHERE j.dedupe_key = $1`, [key])).rows;

/** Makes the idempotency table unwritable for the duration of `fn`, as a database outage would. */
async function withoutIntake<T>(fn: () => Promise<T>): Promise<T> {
  await t.db.pool.query('ALTER TABLE processed_requests RENAME TO processed_requests_away');
  try {
    return await fn();
  } finally {
    await t.db.pool.query('ALTER TABLE processed_requests_away RENAME TO processed_requests');
  }
}

describe('Slack intake', () => {
  it('a slash command, a button press and an event are stored (key and job) before their 200', async () => {
    const { res, triggerId } = await t.slash('/incident list');
    expect(res.status).toBe(200);
    expect(await stored(`cmd:${triggerId}`)).toEqual([{ queue: 'interaction' }]);

    const click = await t.click('incident.take_command', '999', { actionTs: '1700000000.123456' });
    expect(click.res.status).toBe(200);
    expect(await stored('act:1700000000.123456:U0ALICE:incident.take_command')).toEqual([{ queue: 'interaction' }]);

    const ev = await t.event({ type: 'member_joined_channel', user: 'U0BOB', channel: 'C0NOWHERE' }, { eventId: 'EvStoredFirst' });
    expect(ev.status).toBe(200);
    expect(await stored('evt:EvStoredFirst')).toEqual([{ queue: 'interaction' }]);
    await t.settle();
  });

  it('the stored request carries the id of the POST that brought it, so its log lines name that request whichever loop runs it', async () => {
    const { res, triggerId } = await t.slash('/incident list');
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const { rows } = await t.db.pool.query(`SELECT request_id AS id FROM jobs WHERE dedupe_key = $1`, [`cmd:${triggerId}`]);
    expect(rows).toEqual([{ id: requestId }]);
    await t.settle();
  });

  it('text PostgreSQL cannot hold (NUL, a lone surrogate) is a 422 naming the field, never a 5xx Slack would re-deliver for hours', async () => {
    const nul = await t.event({ type: 'pin_added', user: 'U0BOB', item: { channel: 'C0\u0000X', message: { ts: '1.2', text: 'x' } } }, { eventId: 'EvNul' });
    expect(nul.status).toBe(422);
    expect(await nul.text()).toContain('NUL');
    const lone = await t.event({ type: 'member_joined_channel', user: 'U0BOB\ud800', channel: 'C0NOWHERE' }, { eventId: 'EvSurrogate' });
    expect(lone.status).toBe(422);
    expect(await stored('evt:EvNul')).toEqual([]);
    expect(await stored('evt:EvSurrogate')).toEqual([]);
    const { res } = await t.slash('/incident note a\u0000b');
    expect(res.status).toBe(422);
  });

  it('a re-delivery of a stored request is answered 200 and not stored twice', async () => {
    const first = await t.event({ type: 'member_joined_channel', user: 'U0BOB', channel: 'C0NOWHERE' }, { eventId: 'EvTwice' });
    const again = await t.event({ type: 'member_joined_channel', user: 'U0BOB', channel: 'C0NOWHERE' }, { eventId: 'EvTwice', retryNum: 1 });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(await stored('evt:EvTwice')).toHaveLength(1);
    await t.settle();
  });

  it('when PostgreSQL cannot take a request: the command is answered "not recorded", the event gets a 5xx so Slack re-delivers it', async () => {
    const { cmd, ev } = await withoutIntake(async () => ({
      cmd: await t.slash('/incident declare P2 Nobody will know'),
      ev: await t.event({ type: 'member_joined_channel', user: 'U0BOB', channel: 'C0NOWHERE' }, { eventId: 'EvRefused' }),
    }));
    expect(cmd.res.status).toBe(200);
    expect(await cmd.res.text()).toContain('could not record');
    expect(ev.status).toBeGreaterThanOrEqual(500);
    await t.settle();
    expect((await t.db.pool.query(`SELECT 1 FROM incidents WHERE title = 'Nobody will know'`)).rowCount).toBe(0);

    // Slack's re-delivery, once the database is back, is stored and run.
    const redelivered = await t.event({ type: 'member_joined_channel', user: 'U0BOB', channel: 'C0NOWHERE' }, { eventId: 'EvRefused', retryNum: 1 });
    expect(redelivered.status).toBe(200);
    expect(await stored('evt:EvRefused')).toHaveLength(1);
    await t.settle();
  });
  it('a command still being stored at the ack deadline gets a 503, never a 200 for a request a failing write could lose', async () => {
    // Another transaction holds the idempotency table, as a PostgreSQL restart or a starved pool
    // would hold the write: the request cannot be stored before Slack's 3 s are up.
    const blocker = await t.db.pool.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE processed_requests IN EXCLUSIVE MODE');
    let first: Awaited<ReturnType<typeof t.slash>>;
    try {
      first = await t.slash('/incident declare P3 Stored after the deadline');
      expect(first.res.status).toBe(503);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    // The write lands once the lock is gone; Slack's retry with the same trigger then finds it
    // and is acknowledged without storing or running it twice.
    await vi.waitFor(async () => expect(await stored(`cmd:${first.triggerId}`)).toHaveLength(1), { timeout: 10_000, interval: 50 });
    const retry = await t.slash('/incident declare P3 Stored after the deadline', { triggerId: first.triggerId, retryNum: 1 });
    expect(retry.res.status).toBe(200);
    await t.settle();
    expect((await t.db.pool.query(`SELECT 1 FROM incidents WHERE title = 'Stored after the deadline'`)).rowCount).toBe(1);
  });
});
