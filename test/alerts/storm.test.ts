/**
 * Storm control: 10,000 alerts in 100 groups become 100 messages (then in-place updates),
 * never more than one message per second per channel, and every alert is stored.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, step, type AmAlert } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['incidents', 'alerts', 'storm-a', 'storm-b'],
    config: {
      alerts: {
        receivers: { alertmanager: { bearerToken: AM_TOKEN } },
        route: {
          group_by: ['alertname'], group_wait: '10s', group_interval: '1m',
          routes: [
            { matchers: ['shard="a"'], channel: 'storm-a' },
            { matchers: ['shard="b"'], channel: 'storm-b' },
          ],
        },
      },
    },
  });
});
afterAll(() => t.stop());

const GROUPS = 100;
const PER_GROUP = 100;
const alert = (g: number, i: number, status: 'firing' | 'resolved' = 'firing'): AmAlert => ({
  labels: { alertname: `Storm${String(g).padStart(3, '0')}`, shard: g < 50 ? 'a' : 'b', instance: `host-${i}` }, status,
});

/** Sends every alert, 100 per POST, each POST mixing many groups as a busy sender would. */
async function sendAll(status: 'firing' | 'resolved'): Promise<void> {
  const all: AmAlert[] = [];
  for (let i = 0; i < PER_GROUP; i++) for (let g = 0; g < GROUPS; g++) all.push(alert(g, i, status));
  const batches: AmAlert[][] = [];
  for (let i = 0; i < all.length; i += 100) batches.push(all.slice(i, i + 100));
  for (let i = 0; i < batches.length; i += 10) {
    const res = await Promise.all(batches.slice(i, i + 10).map((b) => post(t, '/webhooks/alertmanager', amBody(b), bearer(AM_TOKEN))));
    expect(res.map((r) => r.status)).toEqual(Array(res.length).fill(200));
  }
}

/** Steps one second at a time until the outbox is empty, recording posts+updates per channel per second. */
async function drainBySeconds(limit: number): Promise<number[][]> {
  const perSecond: number[][] = [];
  for (let s = 0; s < limit; s++) {
    const before = t.slack.calls.length;
    await step(t, 1000);
    const calls = t.slack.calls.slice(before).filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update');
    const a = t.slack.channel('storm-a')!.id;
    const b = t.slack.channel('storm-b')!.id;
    perSecond.push([calls.filter((c) => c.args.channel === a).length, calls.filter((c) => c.args.channel === b).length]);
    const left = Number((await t.db.pool.query('SELECT count(*) AS n FROM alert_outbox WHERE kind = $1', ['message'])).rows[0].n);
    if (left === 0) break;
  }
  return perSecond;
}

it('10,000 firing alerts in 100 groups: all stored, 100 messages, one per second per channel', async () => {
  await sendAll('firing');
  const stored = await t.db.pool.query(`SELECT count(*)::int AS n, count(DISTINCT labels->>'alertname')::int AS g FROM alerts`);
  expect(stored.rows[0]).toEqual({ n: 10_000, g: 100 });
  await t.settle();
  expect(t.slack.callsTo('chat.postMessage')).toHaveLength(0); // group_wait
  await step(t, 9000);
  const perSecond = await drainBySeconds(120);
  const posts = t.slack.callsTo('chat.postMessage');
  expect(posts).toHaveLength(100);
  expect(t.slack.callsTo('chat.update').length).toBeLessThanOrEqual(5);
  expect(Math.max(...perSecond.flat())).toBe(1);
  expect(t.slack.messagesIn('storm-a')).toHaveLength(50);
  expect(t.slack.messagesIn('storm-b')).toHaveLength(50);
  expect(t.slack.messagesIn('storm-a')[0]!.text).toMatch(/^FIRING: 100 Storm0/);
  // alerts.maxAlertsShown (15) listed, the rest counted.
  expect(JSON.stringify(t.slack.messagesIn('storm-a')[0]!.blocks)).toContain('…and 85 more (100 firing, 0 resolved)');
  const members = await t.db.pool.query('SELECT count(*)::int AS n FROM alert_group_members');
  expect(members.rows[0].n).toBe(10_000);
});

it('their resolution updates the same 100 messages in place, still paced', async () => {
  const postsBefore = t.slack.callsTo('chat.postMessage').length;
  await sendAll('resolved');
  await step(t, 60_000);
  const perSecond = await drainBySeconds(120);
  expect(t.slack.callsTo('chat.postMessage').length).toBe(postsBefore);
  expect(Math.max(...perSecond.flat())).toBe(1);
  const msgs = [...t.slack.messagesIn('storm-a'), ...t.slack.messagesIn('storm-b')];
  expect(msgs).toHaveLength(100);
  expect(msgs.every((m) => m.text.startsWith('RESOLVED: Storm'))).toBe(true);
  const resolved = await t.db.pool.query(`SELECT count(*)::int AS n FROM alerts WHERE status = 'resolved'`);
  expect(resolved.rows[0].n).toBe(10_000);
});
