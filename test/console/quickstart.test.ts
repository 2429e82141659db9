/**
 * The quick start with nothing configured: the real `npm start` process in console mode.
 * Backups work out of the box on a generated trial key (said once in the log and in #ops),
 * `/backup now` approved by another console user gives a good backup, and `/dr dry-run`
 * approved the same way passes all ten steps with RTO and RPO.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/db.js';
import { killIfRunning, startFirebreak, type FirebreakProcess } from '../ops/support/process.js';
import { TRIAL_KEY_NOTICE } from '../../src/backups/trial-key.js';
import type { ConsoleMessage, ConsoleState } from '../../src/console/surface.js';

let db: { url: string; drop(): Promise<void> };
let dataDir: string;
let p: FirebreakProcess | undefined;

beforeAll(async () => {
  db = await createEmptyDatabase('fb_quickstart');
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'fb-quickstart-'));
}, 60_000);
afterAll(async () => {
  await killIfRunning(p);
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The session the console page holds: its cookie (set with the page) and CSRF header. */
let session: Record<string, string> | undefined;
async function pageHeaders(): Promise<Record<string, string>> {
  if (!session) {
    const page = await fetch(`${p!.url}/console`);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    const info = (await (await fetch(`${p!.url}/console/api/session`, { headers: { cookie } })).json()) as { csrf: string; csrfHeader: string };
    session = { cookie, [info.csrfHeader]: info.csrf };
  }
  return session;
}

async function state(user: string): Promise<ConsoleState> {
  const res = await fetch(`${p!.url}/console/api/state?user=${user}`, { headers: await pageHeaders() });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as ConsoleState;
}

async function post(route: 'command' | 'action', body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${p!.url}/console/api/${route}`, { method: 'POST', headers: { ...(await pageHeaders()), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Waits for a message `user` can see in `channel` that matches, by reading the console's state as the page does. */
async function waitForMessage(user: string, channel: string, pred: (m: ConsoleMessage) => boolean, timeoutMs = 90_000): Promise<ConsoleMessage> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await state(user);
    const ch = s.channels.find((c) => c.name === channel)!;
    const hit = s.messages.filter((m) => m.channel === ch.id).reverse().find(pred);
    if (hit) return hit;
    if (Date.now() > until) throw new Error(`no such message in #${channel}; last ones:\n${s.messages.slice(-8).map((m) => m.text).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const hasApprove = (m: ConsoleMessage) => JSON.stringify(m.blocks ?? []).includes('"change_approve"');

async function approveAs(user: string, request: ConsoleMessage): Promise<void> {
  await post('action', { user, channel: 'approvals', messageTs: request.ts, actionId: 'change_approve' });
}

describe('the quick start with nothing configured (console mode)', () => {
  it('backs up on a trial key and passes a DR dry run, each approved by a second console user', async () => {
    p = await startFirebreak({ DATABASE_URL: db.url, FIREBREAK_DATA_DIR: dataDir }, { startTimeoutMs: 90_000 });
    await p.waitForLog((l) => l.msg.includes('Firebreak is running with the local console'));

    // The key: generated once, private to its owner, and announced once in the log and in #ops.
    const keyFile = path.join(dataDir, 'backup-trial.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(p.logs.filter((l) => l.msg.includes(TRIAL_KEY_NOTICE))).toHaveLength(1);
    await waitForMessage('alice', 'ops', (m) => m.text.includes(TRIAL_KEY_NOTICE));
    expect((await state('alice')).messages.filter((m) => m.text.includes(TRIAL_KEY_NOTICE))).toHaveLength(1);

    await post('command', { user: 'alice', channel: 'ops', text: '/backup now' });
    const backupRequest = await waitForMessage('bob', 'approvals', (m) => hasApprove(m) && /back ?up/i.test(m.text));
    await approveAs('bob', backupRequest);
    const summary = await waitForMessage('alice', 'ops', (m) => /Backup `[^`]+` of \*[^*]+\* (is good|FAILED|was interrupted)/.test(m.text));
    expect(summary.text).toMatch(/is good: .* Verified: /);

    await post('command', { user: 'alice', channel: 'ops', text: '/dr dry-run' });
    const drRequest = await waitForMessage('bob', 'approvals', (m) => hasApprove(m) && m.ts !== backupRequest.ts && /dry.?run|DR/i.test(m.text));
    await approveAs('bob', drRequest);
    const report = await waitForMessage('alice', 'ops', (m) => /^DR-\d+ dry run passed: RTO /.test(m.text), 180_000);
    expect(report.text).toMatch(/passed: RTO [\d.]+ \w+, RPO [\d.]+ \w+$/);
    const steps = await waitForMessage('alice', 'ops', (m) => /^DR-\d+ dry run: steps$/.test(m.text) && !/❌|⏳|◻️|⏭️/u.test(JSON.stringify(m.blocks)));
    // Ten step lines, each passed.
    expect(JSON.stringify(steps.blocks).match(/✅ \*\d+\. /g)).toHaveLength(10);
  }, 300_000);
});
