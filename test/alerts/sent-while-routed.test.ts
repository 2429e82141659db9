/**
 * Found by bench/chaos (short run, seed 18): a group message said "FIRING: 4" while 5 alerts
 * fired, and nothing re-rendered it. After a send the outbox row is dropped only if the group is
 * still at the version that was rendered. Routing bumps the version and re-queues the row in one
 * transaction; when that transaction had re-queued the row but not committed yet, the DELETE
 * waited for the row, and READ COMMITTED then re-checked the new outbox row against the group
 * row as the DELETE first saw it (the old version): the change's row went, the old render stayed.
 * A group that resolved before it was posted dropped its row the same way, unchecked.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, step } from './support.js';

/** Advisory lock the test holds to keep routing's transaction open at its COMMIT. */
const GATE = 4242;

let t: TestApp;
let gate: pg.Client;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['incidents', 'ops', 'alerts'],
    config: { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } } },
  });
  gate = new pg.Client({ connectionString: t.db.url });
  await gate.connect();
});
afterAll(async () => {
  await gate?.end();
  await t?.stop();
});

const topLevel = (group: string) => t.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes(group));

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) {
      // What each session of the database is doing says which step of the interleaving is missing.
      const { rows } = await gate.query('SELECT state, wait_event, left(query, 100) AS query FROM pg_stat_activity WHERE datname = current_database()');
      throw new Error(`timed out waiting for ${what}; sessions: ${JSON.stringify(rows)}`);
    }
    await new Promise((r) => setImmediate(r));
  }
}

/** Sessions of this database waiting for a lock of this kind (pg_stat_activity.wait_event). */
async function waitingOn(events: string[]): Promise<number> {
  const { rows } = await gate.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = ANY($1)`,
    [events],
  );
  return rows[0]!.n;
}

/** From now on routing's transaction, once it has bumped a group's version, waits at its COMMIT. */
async function closeCommitGate(): Promise<void> {
  await gate.query(`CREATE OR REPLACE FUNCTION test_commit_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${GATE}); RETURN NULL; END $$`);
  await gate.query(`CREATE CONSTRAINT TRIGGER test_commit_gate AFTER UPDATE ON alert_groups DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW WHEN (NEW.version <> OLD.version) EXECUTE FUNCTION test_commit_gate()`);
  await gate.query('SELECT pg_advisory_lock($1)', [GATE]);
}

async function openCommitGate(): Promise<void> {
  await gate.query('SELECT pg_advisory_unlock($1)', [GATE]);
  await gate.query('DROP TRIGGER test_commit_gate ON alert_groups');
}

describe('a group change routed while its message is being sent', () => {
  it('is shown: the send does not drop the change queued meanwhile', async () => {
    expect((await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance: 'db-1' } }]), bearer(AM_TOKEN))).status).toBe(200);
    await t.settle();
    t.clock.advance(30_000);
    await closeCommitGate();

    // The group's first message (one alert) is on its way to Slack...
    const answer = t.slack.hold('chat.postMessage');
    const sending = t.app.services.alerts.flush();
    await until('the post to reach Slack', () => t.slack.callsTo('chat.postMessage').length === 1);
    // ...when a second alert of the group arrives and is routed, up to its COMMIT.
    expect((await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'DiskFull', instance: 'db-2' } }]), bearer(AM_TOKEN))).status).toBe(200);
    await until('routing to wait at its commit', async () => (await waitingOn(['advisory'])) === 1);
    // Slack answers; the sender, clearing the sent message, waits for routing's locks.
    answer();
    await until('the sender to wait for routing', async () => (await waitingOn(['transactionid', 'tuple'])) >= 1);
    await openCommitGate();
    await sending;
    await t.settle();
    expect(topLevel('DiskFull').map((m) => m.text.split(' ').slice(0, 2).join(' '))).toEqual(['FIRING: 1']);

    // The second alert is shown at the next group_interval.
    await step(t, 5 * 60_000);
    const msgs = topLevel('DiskFull');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 2');
  });

  it('is posted when it fires again while its resolved-before-posting message is being dropped', async () => {
    const alert = (instance: string, status: 'firing' | 'resolved') => post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'CpuHot', instance }, status }]), bearer(AM_TOKEN));
    expect((await alert('web-1', 'firing')).status).toBe(200);
    await t.settle();
    expect((await alert('web-1', 'resolved')).status).toBe(200);
    await t.settle();
    t.clock.advance(30_000);

    // The sender has seen nothing firing and is about to look for the group's message...
    await closeCommitGate();
    await gate.query('BEGIN');
    await gate.query('LOCK TABLE alert_messages IN ACCESS EXCLUSIVE MODE');
    const sending = t.app.services.alerts.flush();
    await until('the sender to look for the message', async () => (await waitingOn(['relation'])) === 1);
    // ...when a new alert of the group fires and is routed, up to its COMMIT.
    expect((await alert('web-2', 'firing')).status).toBe(200);
    await until('routing to wait at its commit', async () => (await waitingOn(['advisory'])) === 1);
    await gate.query('COMMIT');
    await until('the sender to wait for routing', async () => (await waitingOn(['transactionid', 'tuple'])) >= 1);
    await openCommitGate();
    await sending;

    await step(t, 1000);
    const msgs = topLevel('CpuHot');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain('FIRING: 1');
  });
});
