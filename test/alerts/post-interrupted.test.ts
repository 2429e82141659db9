/**
 * Found by bench/chaos: a group message posted to Slack whose recording failed (the replica
 * killed, PostgreSQL restarting) was posted a second time by the retry. The retry now finds
 * the message the interrupted attempt posted (by its metadata tag) and adopts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, step, stepAndDrain } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['incidents', 'ops', 'alerts'],
    config: { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } } },
  });
});
afterAll(() => t.stop());

const topLevel = () => t.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo);

describe('a group message whose posting was not recorded', () => {
  it('is adopted by the retry, not posted twice', async () => {
    const res = await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance: 'db-1' } }, { labels: { alertname: 'DiskFull', instance: 'db-2' } }]), bearer(AM_TOKEN));
    expect(res.status).toBe(200);
    await t.settle();

    // The database goes away exactly when the posted message is being recorded.
    const pool = t.db.pool;
    const query = pool.query.bind(pool);
    let failed = 0;
    pool.query = ((sql: unknown, ...rest: unknown[]) => {
      if (failed === 0 && typeof sql === 'string' && sql.includes('INSERT INTO alert_messages')) {
        failed++;
        return Promise.reject(new Error('Connection terminated unexpectedly'));
      }
      return (query as (...a: unknown[]) => unknown)(sql, ...rest);
    }) as typeof pool.query;
    try {
      await step(t, 30_000);
    } finally {
      pool.query = query;
    }
    expect(failed).toBe(1);
    expect(topLevel()).toHaveLength(1);

    await stepAndDrain(t, 60_000);
    const msgs = topLevel();
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 2');
    const { rows } = await t.db.pool.query<{ ts: string }>('SELECT ts FROM alert_messages');
    expect(rows.map((r) => r.ts)).toEqual([msgs[0]!.ts]);
  });
});
