/**
 * After a send the group records whether the message it sent said "all resolved": a firing alert
 * that joins such a group starts a new episode (a new message). The send recorded it even when
 * the group had changed while the message was on its way: an alert that started firing then was
 * routed into the current episode, yet the group was marked all-resolved with that alert firing,
 * so the next firing change started a new episode and posted a second message instead of
 * updating the one in chat. All-resolved is now recorded only if nothing in the group fires when
 * it is recorded; the change's row, still queued, decides at the next round.
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
  const res = await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance }, status }]), bearer(AM_TOKEN));
  expect(res.status).toBe(200);
};

const noticed = async () =>
  (await t.db.pool.query<{ all_resolved_noticed: boolean }>(`SELECT all_resolved_noticed FROM alert_groups WHERE group_labels->>'alertname' = 'DiskFull'`)).rows;

describe('a message saying "all resolved" sent while an alert of the group started firing', () => {
  it('does not mark the group all-resolved: the next firing change updates the same message', async () => {
    await alert('db-1');
    await step(t, 30_000);
    expect(topLevel('DiskFull')).toHaveLength(1);

    // db-1 resolves; at the next group_interval the "resolved" update is on its way to Slack...
    await alert('db-1', 'resolved');
    await t.settle();
    t.clock.advance(5 * 60_000);
    const updates = t.slack.callsTo('chat.update').length;
    const answer = t.slack.hold('chat.update');
    const sending = t.app.services.alerts.flush();
    await until('the update to reach Slack', () => t.slack.callsTo('chat.update').length === updates + 1);
    // ...when db-2 fires and is routed into the group (the episode is not over: nothing said so yet).
    await alert('db-2');
    await t.settle();
    answer();
    await sending;
    expect(topLevel('DiskFull')[0]!.text).toMatch(/^RESOLVED/);
    expect(await noticed()).toEqual([{ all_resolved_noticed: false }]);

    // Another alert fires before the next round: still the same episode, the same message.
    await alert('db-3');
    await step(t, 5 * 60_000);
    const msgs = topLevel('DiskFull');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 2');
  });
});
