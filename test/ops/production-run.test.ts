/**
 * One real Firebreak process run the way production runs it: every secret set, a PostgreSQL
 * that needs its password, Slack over HTTP. The test drives it (slash commands, bad signatures,
 * webhooks, probes), stops PostgreSQL under it and starts it again, shuts it down with SIGTERM,
 * then reads everything the process wrote.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlack } from '../support/fake-slack.js';
import { sign } from '../support/app.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { getJson, killIfRunning, startFirebreak, type FirebreakProcess } from './support/process.js';

const hex = (n: number) => randomBytes(n).toString('hex');
const SECRETS = {
  SLACK_BOT_TOKEN: `xoxb-${hex(12)}`,
  SLACK_SIGNING_SECRET: `sign${hex(16)}`,
  PAGERDUTY_ROUTING_KEY: `rk${hex(15)}`,
  PAGERDUTY_API_TOKEN: `pdtok${hex(10)}`,
  PAGERDUTY_WEBHOOK_SECRETS: `whsec${hex(12)}`,
  ALERTMANAGER_WEBHOOK_TOKEN: `amtok${hex(12)}`,
  GRAFANA_WEBHOOK_HMAC_SECRET: `grafhmac${hex(12)}`,
  GENERIC_WEBHOOK_TOKEN: `gentok${hex(12)}`,
};
const DB_PASSWORD = `dbpw${hex(12)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-prodrun-'));
let cluster: Cluster;
let slack: FakeSlack;
let p: FirebreakProcess;

function slash(text: string, opts: { secret?: string } = {}) {
  const body = new URLSearchParams({
    command: text.split(' ')[0]!, text: text.split(' ').slice(1).join(' '), user_id: 'U0ALICE', user_name: 'alice', channel_id: 'C0GENERAL',
    team_id: 'T0TEST', trigger_id: `trig-${hex(6)}`, response_url: slack.responseUrl(hex(4)), api_app_id: 'A0TEST', token: 'legacy',
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return fetch(`${p.url}/slack/events`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(opts.secret ?? SECRETS.SLACK_SIGNING_SECRET, ts, body) },
  });
}

const until = async (what: string, cond: () => Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

beforeAll(async () => {
  cluster = await startCluster(DB_PASSWORD);
  slack = await new FakeSlack().start();
  for (const c of ['incidents', 'ops', 'approvals', 'alerts']) slack.addChannel(c);
  p = await startFirebreak({
    ...SECRETS,
    DATABASE_URL: cluster.url,
    SLACK_API_URL: slack.url,
    FIREBREAK_DATA_DIR: dir,
    LOG_LEVEL: 'debug',
  });
});

afterAll(async () => {
  if (p && p.proc.exitCode !== null && p.proc.exitCode !== 0) console.error(p.output.slice(-40).join('\n'));
  await killIfRunning(p);
  await slack?.stop();
  cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('a production-like run', () => {
  it('serves Slack and webhooks, and refuses forged requests', async () => {
    expect((await slash('/runbook list')).status).toBe(200);
    expect((await slash('/incident declare P3 Log redaction drill')).status).toBe(200);
    expect((await slash('/runbook list', { secret: 'not-the-secret-at-all' })).status).toBe(401);
    const am = JSON.stringify({ version: '4', status: 'firing', receiver: 'firebreak', groupKey: 'g', alerts: [{ status: 'firing', labels: { alertname: 'Drill' }, annotations: {}, startsAt: new Date().toISOString(), fingerprint: 'f1' }] });
    const bad = await fetch(`${p.url}/webhooks/alertmanager`, { method: 'POST', body: am, headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-token' } });
    expect(bad.status).toBe(401);
    const good = await fetch(`${p.url}/webhooks/alertmanager`, { method: 'POST', body: am, headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.ALERTMANAGER_WEBHOOK_TOKEN}` } });
    expect(good.status).toBeLessThan(300);
    const pd = JSON.stringify({ event: { id: 'e1', event_type: 'incident.acknowledged', data: {} } });
    const forged = `v1=${createHmac('sha256', 'wrong').update(pd).digest('hex')}`;
    expect((await fetch(`${p.url}/webhooks/pagerduty`, { method: 'POST', body: pd, headers: { 'content-type': 'application/json', 'x-pagerduty-signature': forged } })).status).toBe(401);
    // The declare's follow-up (war room, headline, announcement) ends with the declared hook.
    await p.waitForLog((l) => l.action === 'incident.declared');
    expect(slack.channels.some((c) => c.name.includes('log-redaction-drill'))).toBe(true);
  });

  it('readiness flips to 503 when PostgreSQL stops and back to 200 when it returns; liveness stays 200', async () => {
    const up = await getJson(`${p.url}/health/ready`);
    expect(up.status).toBe(200);

    cluster.stop();
    const down = await getJson(`${p.url}/health/ready`);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('not_ready');
    const db = (down.body.checks as Record<string, { status: string; required: boolean; error?: string }>).database!;
    expect(db).toMatchObject({ status: 'down', required: true });
    expect(db.error).toBeTruthy();
    expect((await getJson(`${p.url}/health/live`)).status).toBe(200);
    // A command during the outage gets a friendly answer, not a crash.
    expect((await slash('/runbook list')).status).toBe(200);

    cluster.start();
    await until('readiness back to 200', async () => (await getJson(`${p.url}/health/ready`)).status === 200);
    expect(p.proc.exitCode).toBeNull();
  });

  it('exits 0 on SIGTERM; its JSON logs carry request ids and actions and none of the secrets', async () => {
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const all = p.output.join('\n');
    for (const [name, value] of Object.entries({ ...SECRETS, DB_PASSWORD })) {
      expect(all.includes(value), `${name} appears in the logs`).toBe(false);
    }
    // Sanity: the run did produce a real log to search.
    expect(p.logs.length).toBeGreaterThan(20);
    expect(p.logs.every((l) => typeof l.level === 'number' && typeof l.msg === 'string')).toBe(true);
    const declare = p.logs.find((l) => l.msg === 'slash command' && l.action === '/incident declare')!;
    expect(declare).toBeDefined();
    expect(declare.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The access log line of the same POST shares the request id.
    expect(p.logs.some((l) => l.msg === 'request' && l.requestId === declare.requestId && l.status === 200)).toBe(true);
    // The incident it declared is named on the lines of that same request.
    const declared = p.logs.find((l) => l.action === 'incident.declared')!;
    expect(declared).toMatchObject({ requestId: declare.requestId, severity: 'P3' });
    expect(typeof declared.incidentId).toBe('number');
    expect(p.logs.some((l) => l.action === 'shutdown.done')).toBe(true);
  });
});
