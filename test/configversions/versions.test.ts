/**
 * Configuration as a change (issue #22, part B): versions in PostgreSQL, proposals through the
 * change gate, activation with NOTIFY, rollbacks, integrity, SIGHUP, the watcher (driving a
 * recording stand-in for app.reload), and the history/show/diff views. Real PostgreSQL, Slack
 * faked over HTTP.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { runCliText } from '../support/cli.js';
import { ConfigVersions } from '../../src/configversions/service.js';
import { ConfigMessages } from '../../src/configversions/messages.js';
import { configWatcher, type ReloadTarget } from '../../src/configversions/watcher.js';
import { reloadFromFile } from '../../src/configversions/sighup.js';
import { MASK } from '../../src/configversions/effective.js';
import { recentAuditEntries } from '../../src/audit/store.js';
import { configCli } from '../../src/cli/config.js';
import { createLogger } from '../../src/log.js';
import type { Config } from '../../src/config/schema.js';
import type { ConfigVersionRef, ReloadOutcome } from '../../src/config/version-ref.js';

interface ViewBlock { elements?: { action_id?: string; value?: string }[] }

let t: TestApp;
let versions: ConfigVersions;
let listener: pg.Client;
let listenerPid = 0;
const notified: string[] = [];
const log = createLogger({ level: 'silent' });
const dir = mkdtempSync(path.join(tmpdir(), 'fb-cfg-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A stand-in for part A's app: records reloads and reports the version it "runs". */
class RecordingApp implements ReloadTarget {
  configVersion: ConfigVersionRef | undefined;
  calls: { config: Config; ref: ConfigVersionRef }[] = [];
  async reload(config: Config, ref: ConfigVersionRef): Promise<ReloadOutcome> {
    this.calls.push({ config, ref });
    const from = this.configVersion;
    if (from?.hash === ref.hash) return { status: 'unchanged' };
    this.configVersion = ref;
    return { status: 'switched', to: ref, ...(from ? { from } : {}) };
  }
}

const active = async () => (await t.db.pool.query(`SELECT id, hash, status, source, author, previous_id FROM config_versions WHERE status = 'active'`)).rows[0] as { id: string; hash: string; source: string; author: string; previous_id: string | null } | undefined;
const count = async (table: string) => Number((await t.db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

async function approve(user: string): Promise<string> {
  const msg = [...t.slack.messagesIn('approvals')].reverse().find((m) => JSON.stringify(m.blocks ?? []).includes('"action_id":"change_approve"'));
  const button = (msg!.blocks as ViewBlock[]).flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'change_approve')!;
  const out = await t.click('change_approve', String(button.value), { user, channel: t.slack.channel('approvals')!.id });
  await t.settle();
  await t.settle();
  return t.slack.replies(out.responseId).join('\n');
}

beforeAll(async () => {
  t = await startTestApp();
  // The env a replica would have: secrets only from here, never stored.
  versions = new ConfigVersions({
    pool: t.db.pool, clock: t.clock, log, gate: t.app.services.changes,
    notices: new ConfigMessages({ chat: t.app.ctx.chat, log, opsChannel: () => 'ops' }),
    env: { SLACK_BOT_TOKEN: 'xoxb-very-secret-token', SLACK_SIGNING_SECRET: 'signing-secret-value' },
  });
  listener = new pg.Client({ connectionString: t.db.url });
  await listener.connect();
  listener.on('notification', (n) => notified.push(`${n.channel}:${n.payload}`));
  await listener.query('LISTEN firebreak_config');
  listenerPid = Number((await listener.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  await versions.ensureActive('');
});

afterAll(async () => {
  await listener?.end();
  await t?.stop();
});

describe('proposing a configuration', () => {
  it('goes through the gate: the proposer cannot approve; once someone else does, the version is active, every replica is told, and it is audited', async () => {
    const before = (await active())!;
    const text = 'flags:\n  new-route:\n    description: the new alert route\n    percentage: 25\napprovals:\n  expiryMinutes: 45\n';
    const out = await versions.propose(text, { author: 'U0ALICE', source: 'slack' }, { userId: 'U0ALICE', channelId: 'C0GENERAL' });
    expect(out.status).toBe('gated');
    if (out.status !== 'gated') return;
    expect(out.gate.status).toBe('pending');
    expect(out.diff.map((d) => d.key)).toEqual(expect.arrayContaining(['approvals.expiryMinutes', 'flags.new-route.percentage']));
    // The request message shows the diff.
    expect(t.slack.messagesIn('approvals').at(-1)!.text).toContain('approvals.expiryMinutes: 30 → 45');
    expect((await active())!.id).toBe(before.id);

    expect(await approve('U0ALICE')).toMatch(/can't approve it/);
    expect((await active())!.id).toBe(before.id);

    await approve('U0BOB');
    const now = (await active())!;
    expect(Number(now.id)).toBe(out.version.id);
    expect(Number(now.previous_id)).toBe(Number(before.id));
    await vi.waitFor(() => expect(notified).toContain(`firebreak_config:${out.version.id}`));
    const row = (await t.db.pool.query('SELECT status FROM config_versions WHERE id = $1', [before.id])).rows[0];
    expect(row.status).toBe('superseded');

    const audit = await recentAuditEntries(t.db.pool, { limit: 50 });
    const activated = audit.find((e) => e.type === 'config.activated' && e.subject === `config:${out.version.id}`);
    expect(activated).toMatchObject({ actor: 'U0ALICE', payload: expect.objectContaining({ approvers: ['U0BOB'], from: Number(before.id) }) });
    expect(audit.some((e) => e.type === 'change.approved')).toBe(true);
  });

  it('refuses an invalid file before anything changes, naming the problems', async () => {
    const [versionsBefore, changesBefore, activeBefore] = [await count('config_versions'), await count('change_requests'), await active()];
    const out = await versions.propose('approvals:\n  expiryMinutes: soon\nincidnets: {}\n', { author: 'U0ALICE', source: 'slack' }, { userId: 'U0ALICE' });
    expect(out.status).toBe('invalid');
    if (out.status !== 'invalid') return;
    expect(out.problems.join('\n')).toMatch(/approvals\.expiryMinutes/);
    expect(await count('config_versions')).toBe(versionsBefore);
    expect(await count('change_requests')).toBe(changesBefore);
    expect(await active()).toEqual(activeBefore);
    // Secrets cannot be proposed: the file never holds them.
    const secret = await versions.propose('slack:\n  botToken: xoxb-in-the-file\n', { author: 'U0ALICE', source: 'slack' }, { userId: 'U0ALICE' });
    expect(secret).toMatchObject({ status: 'invalid', problems: [expect.stringContaining('is a secret')] });
  });

  it('refuses a change to a setting that cannot change at run time, naming it', async () => {
    const before = await count('config_versions');
    const out = await versions.propose('port: 4000\nslack:\n  apiUrl: https://slack.example.test/api/\n', { author: 'U0ALICE', source: 'slack' }, { userId: 'U0ALICE' });
    expect(out).toMatchObject({ status: 'env-only', keys: ['port', 'slack.apiUrl'] });
    if (out.status === 'env-only') expect(out.message).toMatch(/^port, slack\.apiUrl cannot change while Firebreak runs/);
    expect(await count('config_versions')).toBe(before);
  });

  it('an approved version that no longer validates where it runs is refused, not switched to', async () => {
    const before = (await active())!;
    const p = await versions.prepare('flags:\n  late:\n    enabled: true\n', { author: 'U0ALICE', source: 'slack' });
    if (p.status !== 'recorded') throw new Error(p.status);
    // This replica's environment now has half a Slack configuration.
    const elsewhere = new ConfigVersions({ pool: t.db.pool, clock: t.clock, log, notices: { ops: async () => {} }, env: { SLACK_BOT_TOKEN: 'xoxb-only-half' } });
    const out = await elsewhere.execute({ action: 'activate', versionId: p.version.id, hash: p.version.hash }, { requestId: null, requester: 'U0ALICE', approvers: ['U0BOB'] });
    expect(out).toMatchObject({ ok: false, summary: expect.stringMatching(/SLACK_SIGNING_SECRET/) });
    expect((await active())!.id).toBe(before.id);
    expect((await versions.get(p.version.id))!.status).toBe('refused');
  });

  it('a rollback by hand is gated like a change and goes back to the previous version', async () => {
    const before = (await active())!;
    const o = await versions.rollback(undefined, { userId: 'U0CAROL' });
    expect(o.status).toBe('pending');
    expect((await active())!.id).toBe(before.id);
    await approve('U0BOB');
    const now = (await active())!;
    expect(now.id).toBe(before.previous_id);
    const audit = await recentAuditEntries(t.db.pool, { limit: 20 });
    expect(audit.find((e) => e.type === 'config.rolled_back')).toMatchObject({ actor: 'U0CAROL', subject: `config:${now.id}` });
    // Back again for the next tests (apply: direct, audited as such).
    const again = await versions.apply((await versions.get(Number(before.id)))!.content, { author: 'cli:test', source: 'apply' });
    expect(again.status).toBe('switched');
  });
});

describe('history, show and diff', () => {
  it('shows versions with author, approvers and status; effective configuration with secrets masked', async () => {
    const h = await versions.history();
    expect(h.find((v) => v.status === 'active')).toMatchObject({ approvers: ['U0BOB'] });
    expect(h.find((v) => v.status === 'refused')).toMatchObject({ failureReason: expect.stringMatching(/does not validate here/) });
    expect(h.at(-1)).toMatchObject({ source: 'start' });
    const v = (await versions.show())!;
    expect((v.effective.slack as Record<string, unknown>).botToken).toBe(MASK);
    expect(JSON.stringify(v.effective)).not.toContain('xoxb-very-secret-token');
    expect(JSON.stringify(v.effective)).not.toContain('signing-secret-value');
    const d = await versions.diff('flags: {}\n');
    expect(d.ok && d.lines.map((l) => `${l.key}: ${l.old ?? '(unset)'} → ${l.new ?? '(unset)'}`)).toEqual(expect.arrayContaining(['approvals.expiryMinutes: 45 → 30']));
    expect(JSON.stringify(d)).not.toContain('xoxb-very-secret-token');
  });

  it('the CLI lists, shows and diffs against the running version, and apply switches at once', async () => {
    const saved = { ...process.env };
    process.env.DATABASE_URL = t.db.url;
    process.env.LOG_LEVEL = 'silent';
    delete process.env.FIREBREAK_CONFIG;
    try {
      const h = await runCliText(configCli, 'history', []);
      expect(h.code).toBe(0);
      expect(h.out).toMatch(/^#\d+ active .* approved by U0BOB/m);
      const s = await runCliText(configCli, 'show', []);
      expect(s.out).toContain('--- effective (defaults applied, secrets masked) ---');
      const f = file('diff.yaml', 'approvals:\n  expiryMinutes: 60\n');
      const d = await runCliText(configCli, 'diff', [f]);
      expect(d.code).toBe(0);
      expect(d.out).toContain('approvals.expiryMinutes: 45 → 60');
      const bad = await runCliText(configCli, 'check', [file('bad.yaml', 'port: nope\n')]);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/port/);
      const p = await runCliText(configCli, 'propose', [f, '--commit', 'abc1234']);
      expect(p.code).toBe(0);
      expect(p.out).toMatch(/Version #\d+ .* recorded/);
      // A running replica opens the change request from the job the CLI queued (at the real time).
      t.clock.set(Date.now() + 1000);
      await t.settle();
      const change = (await t.db.pool.query(`SELECT requester, title FROM change_requests WHERE kind = 'config.change' ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(change.requester).toMatch(/^cli:/);
      expect(change.title).toContain('approvals.expiryMinutes: 45 → 60');
      const a = await runCliText(configCli, 'apply', [f]);
      expect(a.code).toBe(0);
      expect((await active())!.source).toBe('cli');
      expect((await t.db.pool.query(`SELECT git_commit FROM config_versions WHERE status = 'active'`)).rows[0].git_commit).toBe('abc1234');
    } finally {
      process.env = saved;
    }
  });
});

describe('the watcher', () => {
  it('reloads the app into the active version on NOTIFY, tells the switch listeners, and refuses a tampered version', async () => {
    const app = new RecordingApp();
    const switched: [ConfigVersionRef, ConfigVersionRef | undefined][] = [];
    const w = configWatcher({ pool: t.db.pool, log, versions, fileText: () => 'flags: {}\n', checkIntervalSeconds: 3600, onSwitched: [(to, from) => switched.push([to, from])] })(app);
    await w.start();
    try {
      const first = (await active())!;
      expect(app.calls.map((c) => c.ref.id)).toEqual([Number(first.id)]);
      await vi.waitFor(() => expect(w.listening).toBe(true));

      const next = await versions.apply('flags:\n  beta:\n    enabled: true\n', { author: 'cli:test', source: 'apply' });
      expect(next.status).toBe('switched');
      if (next.status !== 'switched') return;
      await vi.waitFor(() => expect(app.configVersion?.id).toBe(next.version.id));
      expect(app.calls.at(-1)!.config.flags).toEqual({ beta: { enabled: true } });
      expect(switched.at(-1)).toEqual([{ id: next.version.id, hash: next.version.hash }, { id: Number(first.id), hash: first.hash }]);
      expect(app.calls.at(-1)!.config.slack.botToken).toBe('xoxb-very-secret-token');

      // Someone edits a stored row outside Firebreak: it can no longer be switched to...
      const p = await versions.prepare('flags:\n  gamma:\n    enabled: true\n', { author: 'cli:test', source: 'apply' });
      if (p.status !== 'recorded') throw new Error(p.status);
      await t.db.pool.query(`UPDATE config_versions SET content = content || '  evil:\n    enabled: true\n' WHERE id = $1`, [p.version.id]);
      expect(await versions.activate(p.version.id, { actor: 'U0BOB', type: 'config.activated' })).toMatchObject({ status: 'refused', message: expect.stringMatching(/does not match its hash/) });
      // ...and a replica refuses to run it even when the row is made active behind Firebreak's back.
      const calls = app.calls.length;
      await t.db.pool.query(`UPDATE config_versions SET status = 'superseded' WHERE id = $1`, [next.version.id]);
      await t.db.pool.query(`UPDATE config_versions SET status = 'active' WHERE id = $1`, [p.version.id]);
      await t.db.pool.query(`SELECT pg_notify('firebreak_config', $1)`, [String(p.version.id)]);
      await vi.waitFor(() => expect(t.slack.messagesIn('ops').filter((m) => m.text.includes(`#${p.version.id} was refused`)).length).toBeGreaterThan(1));
      expect(await w.check()).toMatchObject({ status: 'refused-version', problem: expect.stringMatching(/does not match its hash/) });
      expect(app.calls.length).toBe(calls);
      expect(app.configVersion?.id).toBe(next.version.id);
      expect((await t.db.pool.query('SELECT status FROM config_versions WHERE id = $1', [p.version.id])).rows[0].status).toBe('active');
      const audit = await recentAuditEntries(t.db.pool, { limit: 20 });
      expect(audit.filter((e) => e.type === 'config.integrity_refused' && e.subject === `config:${p.version.id}`).length).toBeGreaterThan(0);
      await t.db.pool.query(`UPDATE config_versions SET status = 'refused' WHERE id = $1`, [p.version.id]);
      await t.db.pool.query(`UPDATE config_versions SET status = 'active' WHERE id = $1`, [next.version.id]);
    } finally {
      await w.stop();
    }
  });

  it('listens again after its connection is cut (a PostgreSQL restart) and catches up on what it missed', async () => {
    const app = new RecordingApp();
    const w = configWatcher({ pool: t.db.pool, log, versions, fileText: () => '', checkIntervalSeconds: 3600, reconnectMs: 50 })(app);
    await w.start();
    try {
      await vi.waitFor(() => expect(w.listening).toBe(true));
      await t.db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN firebreak_config%' AND pid NOT IN (pg_backend_pid(), $1)`, [listenerPid]);
      await vi.waitFor(() => expect(w.listening).toBe(false));
      const next = await versions.apply('flags:\n  after-restart:\n    enabled: true\n', { author: 'cli:test', source: 'apply' });
      if (next.status !== 'switched') throw new Error(next.status);
      await vi.waitFor(() => expect(app.configVersion?.id).toBe(next.version.id), { timeout: 5000 });
      await vi.waitFor(() => expect(w.listening).toBe(true));
    } finally {
      await w.stop();
    }
  });
});

describe('automatic rollback and SIGHUP', () => {
  it('rollbackAutomatically marks the version failed, activates the previous one, tells every replica and the ops channel; a second call is a no-op', async () => {
    const base = (await active())!;
    const bad = await versions.apply('flags:\n  risky:\n    enabled: true\n', { author: 'cli:test', source: 'apply' });
    if (bad.status !== 'switched') throw new Error(bad.status);
    const ref = { id: bad.version.id, hash: bad.version.hash };
    expect(await versions.rollbackAutomatically(ref, 'receivers answered 5xx to 40% of requests')).toBe('rolled_back');
    expect((await active())!.id).toBe(base.id);
    const row = (await t.db.pool.query('SELECT status, failure_reason FROM config_versions WHERE id = $1', [bad.version.id])).rows[0];
    expect(row).toEqual({ status: 'failed', failure_reason: 'receivers answered 5xx to 40% of requests' });
    await vi.waitFor(() => expect(notified.at(-1)).toBe(`firebreak_config:${base.id}`));
    expect(t.slack.messagesIn('ops').at(-1)!.text).toContain(`#${bad.version.id} was rolled back automatically to #${base.id}: receivers answered 5xx`);
    expect(await versions.rollbackAutomatically(ref, 'again')).toBe('not_active');
  });

  it('SIGHUP: a valid file becomes the active version (source sighup, audited, NOTIFY); an invalid one changes nothing', async () => {
    const before = (await active())!;
    const good = file('sighup.yaml', 'flags:\n  from-sighup:\n    enabled: true\n');
    const out = await reloadFromFile(versions, { FIREBREAK_CONFIG: good }, log);
    expect(out.status).toBe('switched');
    const now = (await active())!;
    expect(now).toMatchObject({ source: 'sighup', author: 'sighup' });
    await vi.waitFor(() => expect(notified.at(-1)).toBe(`firebreak_config:${now.id}`));
    expect((await recentAuditEntries(t.db.pool, { limit: 5 })).find((e) => e.type === 'config.applied')).toMatchObject({ actor: 'sighup', subject: `config:${now.id}` });
    expect(now.id).not.toBe(before.id);

    const versionsBefore = await count('config_versions');
    const bad = await reloadFromFile(versions, { FIREBREAK_CONFIG: file('bad-sighup.yaml', 'flags:\n  Bad Name: {}\n') }, log);
    expect(bad.status).toBe('invalid');
    expect((await active())!.id).toBe(now.id);
    expect(await count('config_versions')).toBe(versionsBefore);
    expect((await reloadFromFile(versions, { FIREBREAK_CONFIG: path.join(dir, 'missing.yaml') }, log)).status).toBe('unreadable');
  });

  it('/config propose: problems show in the form and nothing is stored; a valid paste becomes a change request showing the diff', async () => {
    const before = await count('config_versions');
    const bad = await t.submitView('config_propose', { yaml: 'approvals:\n  expiryMinutes: -3\n' }, { user: 'U0CAROL', privateMetadata: JSON.stringify({ channelId: 'C0GENERAL' }) });
    const body = (await bad.json()) as { response_action: string; errors: Record<string, string> };
    expect(body.response_action).toBe('errors');
    expect(body.errors.yaml).toMatch(/approvals\.expiryMinutes/);
    await t.settle();
    expect(await count('config_versions')).toBe(before);
    const envOnly = await t.submitView('config_propose', { yaml: 'port: 4000\n' }, { user: 'U0CAROL' });
    expect(((await envOnly.json()) as { errors: Record<string, string> }).errors.yaml).toMatch(/port cannot change while Firebreak runs/);

    const ok = await t.submitView('config_propose', { yaml: 'approvals:\n  expiryMinutes: 50\n' }, { user: 'U0CAROL', privateMetadata: JSON.stringify({ channelId: 'C0GENERAL' }) });
    expect(ok.status).toBe(200);
    await t.settle();
    expect(await count('config_versions')).toBe(before + 1);
    const change = (await t.db.pool.query(`SELECT requester, title, status FROM change_requests WHERE kind = 'config.change' ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(change).toMatchObject({ requester: 'U0CAROL', status: 'pending' });
    expect(change.title).toMatch(/approvals\.expiryMinutes: \d+ → 50/);
    expect((await t.db.pool.query(`SELECT source, author FROM config_versions ORDER BY id DESC LIMIT 1`)).rows[0]).toEqual({ source: 'slack', author: 'U0CAROL' });
  });

  it('/config history, show and flags answer in Slack', async () => {
    const h = await t.slash('/config history');
    await t.settle();
    expect(t.slack.replies(h.responseId).join('\n')).toMatch(/#\d+ active/);
    const f = await t.slash('/config flags');
    await t.settle();
    expect(t.slack.replies(f.responseId).join('\n')).toMatch(/No feature flags|:/);
    const s = await t.slash('/config show nope');
    await t.settle();
    expect(t.slack.replies(s.responseId).join('\n')).toContain('is not a version number');
  });
});
