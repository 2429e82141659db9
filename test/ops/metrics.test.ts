import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.stop());

async function scrape(): Promise<string> {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The value of one series, matched on all the given labels; 0 when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('GET /metrics', () => {
  it('exports process metrics with the firebreak_ prefix', async () => {
    const text = await scrape();
    expect(value(text, 'firebreak_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(text, 'firebreak_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('firebreak_nodejs_eventloop_lag_seconds');
  });

  it('counts slash commands by command, subcommand and outcome, with a latency histogram', async () => {
    const before = await scrape();
    const labels = { command: '/runbook', subcommand: 'list', outcome: 'ok' };
    const { res } = await t.slash('/runbook list');
    expect(res.status).toBe(200);
    await t.settle();
    // Slack's retry of the same command is a duplicate, not a second run.
    const key = `trig-dup-${Date.now()}`;
    await t.slash('/runbook list', { triggerId: key });
    await t.slash('/runbook list', { triggerId: key, retryNum: 1 });
    await t.settle();
    const after = await scrape();
    expect(value(after, 'firebreak_slash_commands_total', labels) - value(before, 'firebreak_slash_commands_total', labels)).toBe(2);
    const dup = { command: '/runbook', subcommand: 'list', outcome: 'duplicate' };
    expect(value(after, 'firebreak_slash_commands_total', dup) - value(before, 'firebreak_slash_commands_total', dup)).toBe(1);
    const count = 'firebreak_slash_command_duration_seconds_count';
    expect(value(after, count, { command: '/runbook', subcommand: 'list' }) - value(before, count, { command: '/runbook', subcommand: 'list' })).toBe(3);
  });

  it('keeps free text out of label values', async () => {
    await t.slash('/runbook "; DROP TABLE x');
    await t.settle();
    const text = await scrape();
    expect(text).not.toContain('DROP');
    expect(value(text, 'firebreak_slash_commands_total', { command: '/runbook', subcommand: 'other' })).toBeGreaterThan(0);
  });

  it('reports incidents open by severity from the database, and Slack API calls by method', async () => {
    const before = await scrape();
    await t.slash('/incident declare P1 Metrics are on fire');
    await t.settle();
    const after = await scrape();
    expect(value(after, 'firebreak_incidents_open', { severity: 'P1' }) - value(before, 'firebreak_incidents_open', { severity: 'P1' })).toBe(1);
    const posted = { method: 'chat.postMessage', outcome: 'ok' };
    expect(value(after, 'firebreak_slack_api_calls_total', posted) - value(before, 'firebreak_slack_api_calls_total', posted)).toBeGreaterThanOrEqual(1);
    expect(value(after, 'firebreak_slack_api_calls_total', { method: 'conversations.create', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
  });

  it('counts Slack 429s', async () => {
    const before = await scrape();
    t.slack.fail('chat.postMessage', 'ratelimited', { status: 429, retryAfter: 0 });
    await t.app.ctx.chat.post('ops', { text: 'hello after a 429' });
    const after = await scrape();
    const d = (name: string, l: Record<string, string>) => value(after, name, l) - value(before, name, l);
    expect(d('firebreak_slack_rate_limited_total', { method: 'chat.postMessage' })).toBe(1);
    expect(d('firebreak_slack_api_calls_total', { method: 'chat.postMessage', outcome: 'ok' })).toBe(1);
    expect(t.slack.messagesIn('ops').some((m) => m.text === 'hello after a 429')).toBe(true);
  });

  it('reads backup, DR and approval gauges from the stored state every replica shares', async () => {
    const db = t.db.pool;
    const finished = new Date('2026-01-02T03:04:05Z');
    await db.query(
      `INSERT INTO backups (id, database, tier, status, object_key, manifest_key, store_location, stored_bytes, recipient, started_at, finished_at, requested_by)
       VALUES ('b1','shop','hourly','verified','k','m','s3://x',12345,'age1x',$1,$1,'test'),
              ('b2','shop','hourly','failed','k2','m2','s3://x',NULL,'age1x',$2,$2,'test')`,
      [finished, new Date(finished.getTime() + 3600_000)],
    );
    await db.query(
      `INSERT INTO dr_runs (kind, database, requester, status, rto_ms, rpo_ms, targets, replica_id, started_at, finished_at)
       VALUES ('dry-run','shop','u','passed',90000,1800000,'{}','r',$1,$1),
              ('dry-run','shop','u','failed',NULL,NULL,'{}','r',$2,$2)`,
      [finished, new Date(finished.getTime() + 60_000)],
    );
    const text = await scrape();
    expect(value(text, 'firebreak_backup_last_success_timestamp_seconds', { target: 'shop' })).toBe(finished.getTime() / 1000);
    expect(value(text, 'firebreak_backup_size_bytes', { target: 'shop' })).toBe(12345);
    expect(value(text, 'firebreak_dr_last_rto_seconds', { target: 'shop' })).toBe(90);
    expect(value(text, 'firebreak_dr_last_rpo_seconds', { target: 'shop' })).toBe(1800);
    // The newest drill failed: the alert rule FirebreakDrDrillFailed fires on this 0.
    expect(text).toMatch(/firebreak_dr_last_drill_success\{[^}]*target="shop"[^}]*\} 0/);
    expect(text).toMatch(/firebreak_approvals_pending\{[^}]*\} 0/);
  });
});
