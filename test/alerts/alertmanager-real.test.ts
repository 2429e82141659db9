/**
 * Against the real Prometheus Alertmanager (Debian's prometheus-alertmanager, installed by
 * scripts/test-deps.sh): its webhook receiver points at Firebreak; alerts pushed to its API
 * become one grouped message in the routed channel, then that message shows their resolution.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { freePort } from '../setup/global.js';
import { startAlertmanager, type RealAlertmanager } from '../silences/am.js';
import { AM_TOKEN } from './support.js';

let t: TestApp;
let am: RealAlertmanager | undefined;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    // Firebreak's own clock is fake: move it so paced updates may go out, then let work run.
    t.clock.advance(1000);
    await t.settle();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; alertmanager log:\n${am?.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  t = await startTestApp({
    seedChannels: ['incidents', 'alerts', 'db-alerts'],
    config: {
      alerts: {
        receivers: { alertmanager: { bearerToken: AM_TOKEN } },
        // Alertmanager already waited and grouped: Firebreak posts what it hands over at once.
        route: { group_by: ['alertname'], group_wait: '0s', group_interval: '0s', routes: [{ matchers: ['team="db"'], channel: 'db-alerts' }] },
      },
    },
  });
  am = await startAlertmanager(await freePort(), `${t.url}/webhooks/alertmanager`);
});

afterAll(async () => {
  await am?.stop();
  await t?.stop();
});

const pushAlerts = (endsAt?: string) =>
  am!.pushAlerts(['pg-1', 'pg-2', 'pg-3'].map((instance) => ({
    labels: { alertname: 'PostgresDown', team: 'db', severity: 'critical', instance },
    annotations: { summary: 'PostgreSQL is down', runbook_url: 'https://runbooks.example/postgres-down' },
    ...(endsAt ? { endsAt } : {}),
  })));

it('real Alertmanager: one grouped message in the routed channel, then its resolution', async () => {
  await pushAlerts();
  // Alertmanager may flush the group before all three alerts of the POST joined it (its
  // group_wait timer runs while it ingests them, which a loaded machine stretches); the next
  // flush brings all three, and Firebreak edits the same message. Wait for that state.
  const first = await until('the grouped message with all three alerts', async () =>
    t.slack.messagesIn('db-alerts').find((m) => m.text === 'FIRING: 3 PostgresDown'));
  expect(JSON.stringify(first.blocks)).toContain('https://runbooks.example/postgres-down');
  const stored = await t.db.pool.query(`SELECT source, status, fingerprint FROM alerts WHERE labels->>'alertname' = 'PostgresDown'`);
  expect(stored.rows).toHaveLength(3);
  expect(stored.rows.every((r) => r.source === 'alertmanager' && r.status === 'firing' && /^[0-9a-f]{16}$/.test(r.fingerprint))).toBe(true);

  // A past endsAt resolves them in Alertmanager, which then sends the resolved webhook.
  await pushAlerts(new Date(Date.now() - 1000).toISOString());
  const resolved = await until('the resolution', async () => {
    const m = t.slack.messagesIn('db-alerts').find((x) => x.ts === first.ts);
    return m?.text.startsWith('RESOLVED') ? m : undefined;
  });
  expect(resolved.text).toBe('RESOLVED: PostgresDown');
  expect(t.slack.messagesIn('db-alerts').filter((m) => !m.thread_ts)).toHaveLength(1);
  expect(t.slack.callsTo('chat.postMessage').filter((c) => c.channel === t.slack.channel('db-alerts')!.id)).toHaveLength(1);
  const after = await t.db.pool.query(`SELECT count(*)::int AS n FROM alerts WHERE labels->>'alertname' = 'PostgresDown' AND status = 'resolved'`);
  expect(after.rows[0].n).toBe(3);
});
