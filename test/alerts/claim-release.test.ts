/**
 * An outbox row is claimed by the attempt sending it, so two flushes that both run (the outbox
 * lock was lost with its session, as when PostgreSQL restarts) do not send the same group at
 * once. Each attempt ended its claim by clearing whatever claim the row had: an attempt that
 * had already dropped its row (sent) cleared the claim another replica's attempt took on the
 * change queued since, and a third attempt (the first replica's next round) sent the group
 * again while that one was still on its way. An attempt now ends only its own claim.
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

const topLevel = () => a.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo);
const fire = async (t: TestApp, instance: string) => {
  expect((await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance } }]), bearer(AM_TOKEN))).status).toBe(200);
};

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

async function waitingOn(events: string[]): Promise<number> {
  const { rows } = await gate.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = ANY($1)`,
    [events],
  );
  return rows[0]!.n;
}

const messageRow = async () =>
  (await gate.query<{ posting_until: Date | null }>(`SELECT posting_until FROM alert_outbox WHERE kind = 'message'`)).rows;

describe("an attempt's claim on an outbox row", () => {
  it("is not ended by another attempt that sent the same group's earlier change", async () => {
    await fire(a, 'db-1');
    await a.settle();
    clock.advance(30_000);
    await a.app.services.alerts.flush();
    await a.settle();
    expect(topLevel()).toHaveLength(1);

    // A second alert: replica A sends the update at the next group_interval...
    await fire(a, 'db-2');
    await a.settle();
    clock.advance(5 * 60_000);
    // ...and, the message updated and its row dropped, is held before its attempt ends (at
    // queueing the group's reminder, a row the test keeps locked).
    await gate.query('BEGIN');
    await gate.query(`SELECT 1 FROM alert_outbox WHERE kind = 'reminder' FOR UPDATE`);
    const updates = a.slack.callsTo('chat.update').length;
    const aSending = a.app.services.alerts.flush().then(() => 'ended', () => 'ended');
    await until('A to wait at the reminder', async () => (await waitingOn(['transactionid', 'tuple'])) === 1);
    expect(a.slack.callsTo('chat.update')).toHaveLength(updates + 1);
    expect(await messageRow()).toEqual([]);

    // PostgreSQL drops A's lock session (A's attempt goes on: it holds no lock of its own).
    const { rows } = await gate.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
        WHERE locktype = 'advisory' AND objid = 730001 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect(rows.map((r) => r.ended)).toEqual([true]);

    // A third alert, and at the next group_interval replica B claims the row and sends the update.
    await fire(b, 'db-3');
    await until('the change to be queued', async () => (await messageRow()).length === 1);
    await b.app.ctx.background.drain(30_000);
    clock.advance(5 * 60_000);
    const answer = a.slack.hold('chat.update');
    const bSending = b.app.services.alerts.flush();
    await until("B's update to reach Slack", () => a.slack.callsTo('chat.update').length === updates + 2);
    const claimed = await messageRow();
    expect(claimed[0]!.posting_until).not.toBeNull();

    // A's attempt ends: B's claim stands, and A's next round does not send the group again.
    await gate.query('COMMIT');
    let done = false;
    const third = until('a third update', () => done || a.slack.callsTo('chat.update').length > updates + 2).then(() => 'sent again');
    const first = await Promise.race([aSending, third]);
    done = true;
    const row = await messageRow();
    answer();
    await bSending;
    await aSending;
    expect(first).toBe('ended');
    expect(row).toEqual(claimed);
    await a.settle();
    await b.settle();
    expect(a.slack.callsTo('chat.update')).toHaveLength(updates + 2);
    const msgs = topLevel();
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 3');
  });
});
