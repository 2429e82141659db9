/**
 * Found by reading: a send records what it told the channel (notified_version, last_notified_at)
 * on the group after Slack answers. When a new episode started meanwhile (an alert of a group
 * whose alerts had all resolved fired again), that record was written into the new episode: it
 * looked as if the new episode had been notified already, though nothing of it was posted, and
 * routing timed its changes from that send (group_interval) rather than from the episode's start
 * (group_wait). A send records only into the episode it rendered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, step, until } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['incidents', 'ops', 'alerts'],
    config: { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } } },
  });
});
afterAll(async () => {
  await t?.stop();
});

const topLevel = (group: string) => t.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes(group));
const alert = async (instance: string, status: 'firing' | 'resolved' = 'firing') => {
  expect((await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'QueueStuck', instance }, status }]), bearer(AM_TOKEN))).status).toBe(200);
};
const updates = () => t.slack.callsTo('chat.update').length;

const group = async () =>
  (await t.db.pool.query<{ id: string; created_at: Date; notified_version: number; last_notified_at: Date | null }>(
    `SELECT id, created_at, notified_version, last_notified_at FROM alert_groups WHERE group_labels->>'alertname' = 'QueueStuck'`)).rows[0]!;

describe('a send answered after a new episode of its group started', () => {
  it('leaves the new episode as not yet notified', async () => {
    // Episode one: fired, posted, resolved, reported resolved.
    await alert('a-1');
    await step(t, 30_000);
    await alert('a-1', 'resolved');
    await step(t, 5 * 60_000);
    expect(topLevel('QueueStuck').map((m) => m.text)).toEqual([expect.stringMatching(/^RESOLVED/)]);
    const before = await group();

    // The message is re-rendered (a silence at the source changed), and the update is on its way...
    t.clock.advance(1000);
    const answer = t.slack.holdNext('chat.update');
    const sent = updates();
    await t.app.services.alerts.refreshGroups([Number(before.id)]);
    const sending = t.app.services.alerts.flush();
    await until('the update to reach Slack', () => updates() === sent + 1);
    // ...when an alert of the group fires again: a new episode.
    await alert('a-2');
    await until('the new episode to start', async () => (await group()).created_at.getTime() !== before.created_at.getTime());
    answer();
    await sending;
    await t.settle();

    const after = await group();
    expect(after.last_notified_at).toBeNull();
    expect(after.notified_version).toBe(0);

    // The new episode still gets its own message.
    await step(t, 5 * 60_000);
    const msgs = topLevel('QueueStuck');
    expect(msgs.map((m) => m.text.split(' ')[0])).toEqual(['RESOLVED:', 'FIRING:']);
  });
});
