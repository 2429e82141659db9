/**
 * A group whose alerts all resolved and were reported resolved starts a new episode when an alert
 * fires again: a fresh message, the old one left in Slack as the record of the last episode. An
 * attempt that posts a group's first message looks first for a message an interrupted attempt may
 * have posted (by its tag) whenever the outbox row says an earlier attempt was made (attempts > 0
 * or the "posting" marker). The tag named only the group, so in a new episode that look found the
 * previous episode's message and the new episode was written over the old record instead of posted.
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
const alert = async (alertname: string, instance: string, status: 'firing' | 'resolved' = 'firing') => {
  const res = await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname, instance }, status }]), bearer(AM_TOKEN));
  expect(res.status).toBe(200);
};

async function groupId(alertname: string): Promise<number> {
  const { rows } = await t.db.pool.query<{ id: string }>(`SELECT id FROM alert_groups WHERE group_labels->>'alertname' = $1`, [alertname]);
  return Number(rows[0]!.id);
}

/** Episode one: an alert fires, is posted, resolves, and the message says so. */
async function firstEpisode(alertname: string): Promise<string> {
  await alert(alertname, 'a-1');
  await step(t, 30_000);
  await alert(alertname, 'a-1', 'resolved');
  await step(t, 5 * 60_000);
  const msgs = topLevel(alertname);
  expect(msgs).toHaveLength(1);
  expect(msgs[0]!.text).toMatch(/^RESOLVED/);
  return msgs[0]!.ts;
}

describe("a new episode's first message", () => {
  it('is posted anew when its first post failed and is retried', async () => {
    const old = await firstEpisode('QueueStuck');

    // A new episode: the first post fails once (Slack had a bad moment), the retry looks before posting.
    await alert('QueueStuck', 'a-2');
    t.slack.fail('chat.postMessage', 'internal_error', { channel: t.slack.channel('alerts')!.id });
    await step(t, 30_000);
    await step(t, 60_000);

    const msgs = topLevel('QueueStuck');
    expect(msgs).toHaveLength(2);
    expect(msgs.find((m) => m.ts === old)!.text).toMatch(/^RESOLVED/);
    const fresh = msgs.find((m) => m.ts !== old)!;
    expect(fresh.text).toMatch(/^FIRING: 1/);
    const stored = await t.db.pool.query<{ ts: string }>('SELECT ts FROM alert_messages WHERE group_id = $1', [await groupId('QueueStuck')]);
    expect(stored.rows.map((r) => r.ts)).toEqual([fresh.ts]);
  });

  it('is posted anew when the last episode left the "posting" marker on its outbox row', async () => {
    // Episode one's first post is on its way to Slack when its alert resolves: the send does not
    // drop the row (the group changed), and the row keeps the marker the post left.
    await alert('LagHigh', 'a-1');
    await t.settle();
    t.clock.advance(30_000);
    const posts = t.slack.callsTo('chat.postMessage').length;
    let answer = t.slack.hold('chat.postMessage');
    let sending = t.app.services.alerts.flush();
    await until('the post to reach Slack', () => t.slack.callsTo('chat.postMessage').length === posts + 1);
    await alert('LagHigh', 'a-1', 'resolved');
    await t.settle();
    answer();
    await sending;
    const id = await groupId('LagHigh');
    const marker = () => t.db.pool.query<{ last_error: string | null }>(`SELECT last_error FROM alert_outbox WHERE group_id = $1 AND kind = 'message'`, [id]);
    expect((await marker()).rows).toEqual([{ last_error: 'posting' }]);

    // The "resolved" update is on its way when someone acknowledges: the group changed again,
    // the row stays (with the marker), and the episode is over (all resolved, reported).
    t.clock.advance(5 * 60_000);
    answer = t.slack.hold('chat.update');
    const updates = t.slack.callsTo('chat.update').length;
    sending = t.app.services.alerts.flush();
    await until('the update to reach Slack', () => t.slack.callsTo('chat.update').length === updates + 1);
    await t.app.services.alerts.acknowledge(id, 'U0ALICE');
    answer();
    await sending;
    await t.settle();
    const old = topLevel('LagHigh');
    expect(old).toHaveLength(1);
    expect(old[0]!.text).toMatch(/^RESOLVED/);
    expect((await marker()).rows).toEqual([{ last_error: 'posting' }]);

    // It fires again: a new episode, and its own message.
    await alert('LagHigh', 'a-2');
    await step(t, 30_000);
    const msgs = topLevel('LagHigh');
    expect(msgs).toHaveLength(2);
    expect(msgs.find((m) => m.ts === old[0]!.ts)!.text).toMatch(/^RESOLVED/);
    expect(msgs.find((m) => m.ts !== old[0]!.ts)!.text).toMatch(/^FIRING: 1/);
  });
});
