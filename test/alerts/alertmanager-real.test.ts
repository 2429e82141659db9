/**
 * Against the real Prometheus Alertmanager (Debian's prometheus-alertmanager, installed by
 * scripts/test-deps.sh): its webhook receiver points at Firebreak; alerts pushed to its API
 * become one grouped message in the routed channel, then that message shows their resolution.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestApp, type TestApp } from '../support/app.js';
import { freePort } from '../setup/global.js';
import { AM_TOKEN } from './support.js';

const BIN = ['/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager'].find((b) => spawnSync(b, ['--version']).status === 0);
let t: TestApp;
let am: ChildProcess | undefined;
let amUrl = '';
let dir = '';
let amLog = '';

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    // Firebreak's own clock is fake: move it so paced updates may go out, then let work run.
    t.clock.advance(1000);
    await t.settle();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; alertmanager log:\n${amLog.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  if (!BIN) throw new Error('prometheus-alertmanager is not installed: run scripts/test-deps.sh (apt-get install prometheus-alertmanager)');
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
  dir = mkdtempSync(path.join(tmpdir(), 'fb-am-'));
  const port = await freePort();
  amUrl = `http://127.0.0.1:${port}`;
  writeFileSync(path.join(dir, 'am.yml'), `
route:
  receiver: firebreak
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: firebreak
  webhook_configs:
  - url: ${t.url}/webhooks/alertmanager
    send_resolved: true
    http_config:
      authorization:
        type: Bearer
        credentials: ${AM_TOKEN}
`);
  am = spawn(BIN, [`--config.file=${path.join(dir, 'am.yml')}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: ['ignore', 'pipe', 'pipe'] });
  am.stdout!.on('data', (d: Buffer) => (amLog += d.toString()));
  am.stderr!.on('data', (d: Buffer) => (amLog += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${amUrl}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`alertmanager did not start:\n${amLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (am && am.exitCode === null) {
    am.kill('SIGTERM');
    await new Promise((r) => am!.once('exit', r));
  }
  await t?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pushAlerts = async (endsAt?: string) => {
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const alerts = ['pg-1', 'pg-2', 'pg-3'].map((instance) => ({
    labels: { alertname: 'PostgresDown', team: 'db', severity: 'critical', instance },
    annotations: { summary: 'PostgreSQL is down', runbook_url: 'https://runbooks.example/postgres-down' },
    startsAt, ...(endsAt ? { endsAt } : {}),
  }));
  const res = await fetch(`${amUrl}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
  expect(res.status).toBe(200);
};

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
