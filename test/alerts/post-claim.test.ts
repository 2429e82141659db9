/**
 * Found by bench/chaos (short run on a loaded machine): an alert group posted twice. One
 * replica sends from the outbox under a session advisory lock; a PostgreSQL restart ends that
 * session while the replica's post is still on its way to Slack, so the other replica takes
 * the lock, finds no tagged message yet (the first post has not landed) and posts the group
 * again. The outbox row is now claimed for the length of a post, whatever the lock does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, until } from './support.js';

const clock = new FakeClock('2026-03-09T10:00:00Z');
const config = { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } } };
let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  a = await startTestApp({ clock, seedChannels: ['incidents', 'ops', 'alerts'], config });
  b = await startTestApp({ clock, config, shared: { db: a.db, slack: a.slack } });
  // B's start-up routing pass takes the outbox lock for a moment; if A's flush below met it,
  // A would send nothing and the test would wait for a post that never comes (fresh-clone run B0).
  await b.settle();
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

const topLevel = () => a.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo);

describe('a group post in flight when its sender loses the outbox lock', () => {
  it('is not posted again by the other replica', async () => {
    const res = await post(a, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance: 'db-1' } }]), bearer(AM_TOKEN));
    expect(res.status).toBe(200);
    await a.settle();
    expect(topLevel()).toHaveLength(0);

    // Slack takes its time with posts: replica A's post is on its way when its session dies.
    a.slack.slow('chat.postMessage', 1500);
    clock.advance(30_000);
    // A's flush ends in an error (its lock session is gone when it unlocks); what it posted counts.
    const sending = a.app.services.alerts.flush().catch(() => undefined);
    await until('A to send its post', () => a.slack.callsTo('chat.postMessage').length >= 1);
    const { rows } = await a.db.pool.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
        WHERE locktype = 'advisory' AND objid = 730001 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect(rows.map((r) => r.ended)).toEqual([true]);

    // Replica B's flush (its wake-up timer or the flush job) comes while A's post is in flight.
    await b.app.services.alerts.flush();
    await sending;
    a.slack.slow('chat.postMessage', 0);
    await a.settle();
    await b.settle();

    const msgs = topLevel();
    expect(msgs.map((m) => m.text.split('\n')[0])).toHaveLength(1);
    const stored = await a.db.pool.query<{ ts: string }>('SELECT ts FROM alert_messages');
    expect(stored.rows.map((r) => r.ts)).toEqual([msgs[0]!.ts]);
  });
});
