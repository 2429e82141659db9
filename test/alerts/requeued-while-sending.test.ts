/**
 * Found by reading: after a send, the group's outbox row was dropped if the group was still at the
 * version that was rendered. Some changes to how a group is shown re-queue its row without a new
 * version: an incident attached to the group (the message then names it), a silence or
 * maintenance at the source (refreshGroups), the incident's channel becoming ready. One that came
 * while a send of the group was on its way to Slack was dropped with it: the message never showed
 * it, even with one replica. The row is dropped only if nobody queued it again since the claim.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, step, text, until } from './support.js';

let t: TestApp;
let db: pg.Client;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['incidents', 'ops', 'alerts'],
    config: { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } } },
  });
  db = new pg.Client({ connectionString: t.db.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
});

const topLevel = (group: string) => t.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes(group));
const fire = async (instance: string) => {
  expect((await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance } }]), bearer(AM_TOKEN))).status).toBe(200);
};
const updates = () => t.slack.callsTo('chat.update').length;

describe('a group re-queued without a new version while its message is being sent', () => {
  it('keeps the change: the message shows the incident attached meanwhile', async () => {
    await fire('db-1');
    await t.settle();
    await step(t, 30_000);
    expect(topLevel('DiskFull')).toHaveLength(1);
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM alert_groups WHERE group_labels->>'alertname' = 'DiskFull'`);
    const groupId = Number(rows[0]!.id);

    // The group's second alert is on its way to Slack as an update...
    await fire('db-2');
    await t.settle();
    t.clock.advance(5 * 60_000);
    const sent = updates();
    const answer = t.slack.holdNext('chat.update');
    const sending = t.app.services.alerts.flush();
    await until('the update to reach Slack', () => updates() === sent + 1);
    // ...when someone declares an incident from the group: the message should name it.
    const declared = await t.app.services.alerts.declareFromGroup(groupId, 'U_ALICE', 'req-1');
    expect(declared?.status).toBe('declared');
    answer();
    await sending;

    await t.settle();
    await step(t, 5 * 60_000);
    const msgs = topLevel('DiskFull');
    expect(msgs).toHaveLength(1);
    expect(text(msgs[0])).toContain('FIRING: 2');
    expect(text(msgs[0])).toContain(`part of INC-${declared!.incidentId}`);
  });
});
