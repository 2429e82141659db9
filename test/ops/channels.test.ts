/**
 * At start, every channel Firebreak posts to is found, created when the bot may, or reported
 * once with the exact fix (src/chat/channels.ts, called by src/main.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createLogger } from '../../src/log.js';
import { configuredChannels, ensureChannels } from '../../src/chat/channels.js';
import { BOT_TOKEN } from '../support/app.js';

/** `firebreak config check` as a user runs it, against the fake Slack (async: the fake answers from this process). */
async function configCheck(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'config', 'check', ...args], {
      env: { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://x@127.0.0.1/x', FIREBREAK_BACKUP_RECIPIENT: 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p', SLACK_SIGNING_SECRET: 'signing-secret-0123456789', ...env },
      timeout: 30_000,
    });
    return { code: 0, stderr: r.stderr, stdout: r.stdout };
  } catch (e) {
    const err = e as { code: number; stderr: string; stdout: string };
    return { code: err.code, stderr: err.stderr, stdout: err.stdout };
  }
}

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    seedChannels: ['incidents'],
    config: { alerts: { route: { routes: [{ matchers: ['team="db"'], channel: 'db-alerts' }] } } },
  });
}, 60_000);
afterAll(() => t?.stop());

describe('configured channels at start', () => {
  it('lists every channel Firebreak posts to, with the settings that name it', () => {
    expect(configuredChannels(t.config)).toEqual([
      { name: 'incidents', usedBy: ['incidents.channel'] },
      { name: 'ops', usedBy: ['ops.channel'] },
      { name: 'approvals', usedBy: ['approvals.channel'] },
      { name: 'alerts', usedBy: ['alerts.defaultChannel', 'alerts.route (root)'] },
      { name: 'db-alerts', usedBy: [expect.stringMatching(/^alerts\.route \(/)] },
    ]);
  });

  it('creates the missing ones the bot may create, and names the fix for one it may not', async () => {
    // The workspace refuses one creation (as without channels:manage, or a name taken by an archived channel).
    t.slack.fail('conversations.create', 'restricted_action', { times: 1 });
    const r = await ensureChannels(t.config, t.app.ctx.chat, createLogger({ level: 'silent' }));
    expect(r.found).toEqual(['incidents']);
    expect(r.created).toEqual(['approvals', 'alerts', 'db-alerts']);
    expect(r.missing).toEqual([{ name: 'ops', fix: expect.stringMatching(/^#ops \(ops\.channel\) does not exist and the bot cannot create it: create #ops in Slack \(or give the app the channels:manage scope\), or change ops\.channel$/) }]);
    expect(t.slack.channel('db-alerts')).toBeDefined();
  });

  it('readiness names a configured channel that disappeared, with the fix, without failing the replica', async () => {
    const ready = async () => (await (await fetch(t.url + '/health/ready')).json()) as { status: string; checks: Record<string, { status: string; error?: string }> };
    t.slack.addChannel('ops'); // the test above left it missing
    expect((await ready()).checks.channels).toMatchObject({ status: 'up' });
    t.slack.channel('db-alerts')!.is_archived = true;
    t.slack.channel('db-alerts')!.name = 'db-alerts-old';
    // A second app on the same Slack has no cached answers, as a replica starting later.
    const second = await startTestApp({ shared: { db: t.db, slack: t.slack }, config: { alerts: { route: { routes: [{ matchers: ['team="db"'], channel: 'db-alerts' }] } } } });
    try {
      const r = (await (await fetch(second.url + '/health/ready')).json()) as Awaited<ReturnType<typeof ready>>;
      expect(r.status).toBe('degraded');
      expect(r.checks.channels!.status).toBe('down');
      expect(r.checks.channels!.error).toMatch(/#db-alerts \(alerts\.route .*\) does not exist/);
    } finally {
      await second.stop();
      t.slack.channel('db-alerts-old')!.name = 'db-alerts';
      t.slack.channel('db-alerts')!.is_archived = false;
    }
  }, 60_000);

  it('config check asks Slack for the token and every channel, read-only, and names what is missing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fb-check-'));
    writeFileSync(path.join(dir, 'firebreak.yml'), 'alerts:\n  defaultChannel: nowhere\n');
    const cfg = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_URL: t.slack.url, FIREBREAK_CONFIG: path.join(dir, 'firebreak.yml') };
    const creates = t.slack.callsTo('conversations.create').length;
    const r = await configCheck(cfg);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: #nowhere (alerts.defaultChannel, alerts.route (root)) does not exist: Firebreak creates it at start when the app has the channels:manage scope');
    expect(r.stderr).not.toMatch(/#(incidents|ops|approvals) /);
    expect(r.stdout).toContain('config ok');
    expect(t.slack.callsTo('conversations.create').length).toBe(creates);

    t.slack.fail('auth.test', 'invalid_auth', { times: 1 });
    const bad = await configCheck(cfg);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Slack: could not check the token and channels: .*invalid_auth/);
    expect(bad.stderr).not.toContain(BOT_TOKEN);
    t.slack.takeViolations();

    const offline = await configCheck({ ...cfg, SLACK_API_URL: 'http://127.0.0.1:9/api/' }, '--offline');
    expect(offline.code).toBe(0);
  }, 90_000);
});
