/**
 * An attempt can outlive its claim on an outbox row (no renewal for 30 s: PostgreSQL away, the
 * process stalled) while another replica claims the row and sends the group. When the first
 * attempt's Slack call then failed, it still deferred (or, for a channel "gone", deleted) the row by
 * its key alone: by then the row held the group's next change, which it had never seen. A late
 * failure sent that change at once, before group_interval (deferred from the attempt's stale time),
 * or dropped it so the message never showed it. An attempt now writes only to a row it still holds.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post } from './support.js';

const clock = new FakeClock('2026-03-09T10:00:00Z');
const config = { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } } };
let a: TestApp;
let b: TestApp;
let gate: pg.Client;
beforeAll(async () => {
  a = await startTestApp({ clock, seedChannels: ['incidents', 'ops', 'alerts'], config });
  b = await startTestApp({ clock, config, shared: { db: a.db, slack: a.slack } });
  await b.settle();
  gate = new pg.Client({ connectionString: a.db.url });
  await gate.connect();
});
afterAll(async () => {
  await gate?.end();
  await b?.stop();
  await a?.stop();
});

const topLevel = (group: string) => a.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes(group));
const fire = async (t: TestApp, alertname: string, instance: string) => {
  expect((await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname, instance } }]), bearer(AM_TOKEN))).status).toBe(200);
};
const updates = () => a.slack.callsTo('chat.update').length;

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) {
      const { rows } = await gate.query('SELECT state, wait_event, left(query, 100) AS query FROM pg_stat_activity WHERE datname = current_database()');
      throw new Error(`timed out waiting for ${what}; sessions: ${JSON.stringify(rows)}`);
    }
    await new Promise((r) => setImmediate(r));
  }
}

const messageRow = async (alertname: string) =>
  (await gate.query<{ not_before: Date; attempts: number; posting_by: string | null }>(
    `SELECT o.not_before, o.attempts, o.posting_by FROM alert_outbox o JOIN alert_groups g ON g.id = o.group_id
      WHERE o.kind = 'message' AND g.group_labels->>'alertname' = $1`, [alertname])).rows;

/**
 * Replica A's update of the group's second alert is on its way to Slack when its lock session
 * ends and its claim lapses; replica B claims the row and sends the same update; a third alert is
 * queued for the next group_interval. Then A's Slack call fails with `error`.
 */
async function lateFailure(alertname: string, error: string): Promise<void> {
  await fire(a, alertname, 'i-1');
  await a.settle();
  clock.advance(30_000);
  await a.app.services.alerts.flush();
  await fire(a, alertname, 'i-2');
  await a.settle();
  expect(topLevel(alertname)).toHaveLength(1);

  clock.advance(5 * 60_000);
  const sent = updates();
  const answerA = a.slack.holdNext('chat.update');
  const aSending = a.app.services.alerts.flush().then(() => 'ended', () => 'ended');
  await until("A's update to reach Slack", () => updates() === sent + 1);

  const { rows } = await gate.query<{ ended: boolean }>(
    `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
      WHERE locktype = 'advisory' AND objid = 730001 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  expect(rows.map((r) => r.ended)).toEqual([true]);
  // Past A's claim (a renewal that slips in extends it from the fake clock: then move on again).
  await until("B's update to reach Slack", async () => {
    clock.advance(31_000);
    await b.app.services.alerts.flush();
    return updates() === sent + 2;
  });
  expect(topLevel(alertname)[0]!.text).toContain('FIRING: 2');
  expect(await messageRow(alertname)).toEqual([]);

  await fire(b, alertname, 'i-3');
  await b.settle();
  const queued = await messageRow(alertname);
  expect(queued).toEqual([{ not_before: expect.any(Date), attempts: 0, posting_by: null }]);

  answerA(error);
  expect(await aSending).toBe('ended');
  await a.settle();
  // The change A never saw is still queued as routing left it, and not sent early.
  expect(await messageRow(alertname)).toEqual(queued);
  expect(updates()).toBe(sent + 2);
  expect(topLevel(alertname)[0]!.text).toContain('FIRING: 2');
}

describe('an attempt that outlived its claim', () => {
  it('does not reschedule the change queued since when its Slack call fails', async () => {
    await lateFailure('DiskFull', 'internal_error');
    clock.advance(5 * 60_000);
    await b.app.services.alerts.flush();
    const msgs = topLevel('DiskFull');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 3');
  });

  it('does not drop the change queued since when Slack says the channel is gone', async () => {
    await lateFailure('CpuHot', 'not_in_channel');
    clock.advance(5 * 60_000);
    await b.app.services.alerts.flush();
    const msgs = topLevel('CpuHot');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 3');
  });
});
