import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminUrl, createEmptyDatabase } from '../support/db.js';
import { makeVerifiedBackup as makePipelineBackup } from '../support/backups.js';
import type { BackupRecord } from '../../src/backups/model.js';
import { FakeClock } from '../../src/clock.js';
import { eventsBy } from '../../src/events/log.js';
import type { StepRecord } from '../../src/dr/model.js';
import { registry } from '../../src/ops/metrics.js';
import {
  corruptStoredObject, drTestConfig, makeSlowSourceDatabase, makeSourceDatabase, makeVerifiedBackup, scratchDatabases, spreadRunIds,
  type DrTestConfig, type SourceDatabase,
} from './support.js';

const clock = new FakeClock(new Date('2026-11-23T10:00:00Z'));
let t: TestApp;
let config: DrTestConfig;
let source: SourceDatabase;
let good: BackupRecord;
let opsId: string;
const SMOKE = [
  { name: 'customers restored', sql: 'SELECT count(*) FROM customers', expect: '300' },
  { name: 'orders reference customers', sql: 'SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL', expect: '0' },
];

beforeAll(async () => {
  config = await drTestConfig('fb-dr', {
    restoreJobs: 2,
    smokeChecks: SMOKE,
    postRestore: { sql: 'CREATE TABLE IF NOT EXISTS public.dr_marker (at timestamptz DEFAULT now())' },
    switchTraffic: 'Set DATABASE_URL to {targetUrl} and restart the API pods.',
  });
  t = await startTestApp({
    clock,
    config: {
      ...config,
      // These tests are about the drill itself: dry runs are a pre-approved standard change here
      // (test/dr/gated.test.ts covers the default, approval-gated policy).
      approvals: { actions: { 'dr.dry-run': { preApproved: true } } },
    },
  });
  await spreadRunIds(t.db.pool);
  opsId = t.slack.channel('ops')!.id;
  source = await makeSourceDatabase();
  good = await makeVerifiedBackup(t.app.ctx, source, { snapshotAt: new Date(clock.now().getTime() - 12 * 60_000) });
});
afterAll(async () => {
  await t?.stop();
  await source?.drop();
});
beforeEach(() => {
  t.app.ctx.config.dr.smokeChecks = SMOKE;
});

const service = () => t.app.services.dr;
const lastRun = async () => (await t.db.pool.query('SELECT * FROM dr_runs ORDER BY id DESC LIMIT 1')).rows[0];
type StepN = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
const stepsOf = (run: { steps: StepRecord[] }): Record<StepN, StepRecord> => {
  expect(run.steps).toHaveLength(10);
  return Object.fromEntries(run.steps.map((s) => [s.n, s])) as Record<StepN, StepRecord>;
};

/** Runs `/dr ...` from #ops and waits for everything it started to finish. */
async function dr(text: string, user = 'U0ALICE'): Promise<string[]> {
  const { responseId } = await t.slash(`/dr ${text}`, { channel: opsId, user });
  await t.settle();
  return t.slack.replies(responseId);
}

/** Runs `/dr ...` and waits only for its reply, not for a drill it may have started. */
async function drNow(text: string, user = 'U0ALICE'): Promise<string[]> {
  const { responseId } = await t.slash(`/dr ${text}`, { channel: opsId, user });
  return waitFor(`the reply to /dr ${text}`, async () => {
    const r = t.slack.replies(responseId);
    return r.length > 0 && r;
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function slowBackup(): Promise<{ backup: BackupRecord; db: SourceDatabase }> {
  const db = await makeSlowSourceDatabase();
  return { backup: await makeVerifiedBackup(t.app.ctx, db, { snapshotAt: clock.now() }), db };
}

describe('/dr dry-run', () => {
  it('runs the ten steps in a thread updated in place, reports RTO and RPO against targets, and drops the scratch database', async () => {
    const before = t.slack.messages.length;
    const replies = await dr('dry-run');
    // Pre-approved in this file: the gate starts it at once and the steps go to the thread.
    expect(replies.join('\n')).toMatch(/The dry run of \S+ is starting \(pre-approved\)/);
    const run = await lastRun();
    expect(run.status).toBe('passed');
    expect(run.kind).toBe('dry-run');
    expect(run.backup_id).toBe(good.id);
    expect(run.target_database).toBe(`firebreak_dr_${run.id}`);
    expect(run.error).toBeNull();
    // RTO: real wall time of steps 3-8, sane for a small database; RPO: fake now minus the snapshot.
    expect(Number(run.rto_ms)).toBeGreaterThan(0);
    expect(Number(run.rto_ms)).toBeLessThan(60_000);
    expect(Number(run.rpo_ms)).toBe(12 * 60_000);
    const steps = stepsOf(run);
    expect(run.steps.map((s: { status: string }) => s.status)).toEqual(Array(10).fill('passed'));
    // Wall time of steps 3-8: in a dry run 3, 4 (one stream) and 5 overlap, 6-8 follow in turn.
    const rtoParts = ([3, 4, 5, 6, 7, 8] as const).reduce((n, i) => n + steps[i].durationMs!, 0);
    const serial = ([4, 6, 7, 8] as const).reduce((n, i) => n + steps[i].durationMs!, 0);
    expect(Number(run.rto_ms)).toBeGreaterThanOrEqual(serial - 2);
    expect(Number(run.rto_ms)).toBeLessThanOrEqual(rtoParts + 100);
    expect(steps[1].detail).toMatch(/^Firebreak database ok · restore server PostgreSQL 15\.\d+.* · object store ok · decryption key present · pg_restore 15\.\d+.* · [\d.]+ GiB free$/);
    expect(steps[2].detail).toContain(good.id);
    expect(steps[4].detail).toMatch(/SHA-256 matches/);
    expect(steps[6].detail).toMatch(/pg_restore -j 2 --exit-on-error/);
    expect(steps[7].detail).toBe('ran post-restore SQL');
    expect(steps[8].detail).toMatch(/3 tables, 1842 rows match the manifest · 2 smoke check\(s\) passed/);
    expect(steps[9].detail).toMatch(/RTO .* \(target 4 h 00 min\), RPO 12 min 00 s \(target 1 h 00 min\)/);
    expect(steps[10].detail).toMatch(/dropped firebreak_dr_/);
    expect(await scratchDatabases(adminUrl())).not.toContain(run.target_database);

    // The channel: a headline, the steps in its thread edited in place, and the report.
    const mine = t.slack.messages.slice(before).filter((m) => m.channel === opsId);
    const head = mine.find((m) => !m.thread_ts && m.text.includes(`DR-${run.id}`) && m.ts === run.message_ts)!;
    expect(head.text).toContain('passed');
    const stepsMsg = mine.find((m) => m.ts === run.thread_ts)!;
    expect(stepsMsg.thread_ts).toBe(head.ts);
    const stepText = JSON.stringify(stepsMsg.blocks);
    for (let n = 1; n <= 10; n++) expect(stepText).toContain(`✅ *${n}. `);
    expect(stepText).toMatch(/_\d+(\.\d)? (ms|s)_/);
    const edits = t.slack.callsTo('chat.update').filter((a) => a.ts === run.thread_ts);
    // Edited as the steps run; updates that arrive while one is in flight are merged into the next.
    expect(edits.length).toBeGreaterThanOrEqual(5);
    expect(t.slack.messagesIn(opsId).filter((m) => m.thread_ts === head.ts)).toHaveLength(1);
    const report = mine.find((m) => !m.thread_ts && m.text.startsWith(`DR-${run.id} dry run passed`))!;
    expect(report.text).toMatch(/RTO [\d.]+ (ms|s), RPO 12 min 00 s/);
    expect(JSON.stringify(report.blocks)).toContain('Production was not touched');

    // Stored as events, and in the metrics.
    const events = (await eventsBy(t.db.pool, { subject: `dr:${run.id}` })).map((e) => e.type);
    expect(events).toEqual(['dr.started', 'dr.passed']);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(new RegExp(`firebreak_dr_last_rpo_seconds\\{target="${source.name}"[^}]*\\} 720\n`));
    expect(metrics).toMatch(new RegExp(`firebreak_dr_last_rto_seconds\\{target="${source.name}"[^}]*\\} ${Number(run.rto_ms) / 1000}\n`));
    expect(metrics).toMatch(new RegExp(`firebreak_dr_last_drill_success\\{target="${source.name}"[^}]*\\} 1\n`));
    expect(metrics).toMatch(new RegExp(`firebreak_dr_drills_total\\{target="${source.name}",mode="dry-run",outcome="succeeded"[^}]*\\} 1\n`));
  });

  it('restores a backup taken by the backups pipeline (runBackup), matching its manifest', async () => {
    const db = await createEmptyDatabase('fb_drpipe');
    try {
      const { record } = await makePipelineBackup({
        pool: t.db.pool, databaseUrl: db.url, name: 'pipeline_src', clock,
        using: { config: t.config, ...config.backups.encryption },
      });
      expect(record.status).toBe('verified');
      clock.advance(7 * 60_000);
      t.app.ctx.config.dr.smokeChecks = [{ name: 'customers', sql: 'SELECT count(*) FROM customers', expect: '500' }];
      const hook = t.app.ctx.config.dr.postRestore;
      const saved = hook.sql;
      delete hook.sql;
      try {
        await dr(`dry-run ${record.id}`);
      } finally {
        clock.advance(-7 * 60_000);
        hook.sql = saved;
      }
      const run = await lastRun();
      expect(run.status).toBe('passed');
      expect(run.database).toBe('pipeline_src');
      expect(Number(run.rpo_ms)).toBe(7 * 60_000);
      const tables = Object.keys(record.rowCounts!);
      expect(tables.length).toBeGreaterThanOrEqual(3);
      // No post-restore hook here, so tables are counted as pg_restore finishes each one.
      expect(stepsOf(run)[8].detail).toContain(`${tables.length} tables, ${Object.values(record.rowCounts!).reduce((a, b) => a + b, 0)} rows match the manifest (`);
      expect(stepsOf(run)[8].detail).toMatch(/\((\d+) counted while the restore ran\)/);
    } finally {
      await db.drop();
    }
  });

  it('fails at step 4 on a corrupted object and restores nothing', async () => {
    const bad = await makeVerifiedBackup(t.app.ctx, source, { snapshotAt: clock.now() });
    await corruptStoredObject(t.app.ctx, bad);
    await dr(`dry-run ${bad.id}`);
    const run = await lastRun();
    const steps = stepsOf(run);
    expect(run.status).toBe('failed');
    expect(steps[3].status).toBe('passed');
    expect(steps[4].status).toBe('failed');
    expect(steps[4].detail).toMatch(/checksum mismatch for backup/);
    // A dry run creates its (empty) scratch database while the object streams in; nothing is restored into it.
    expect(steps[5].status).toBe('passed');
    for (const n of [6, 7, 8, 9] as const) expect(steps[n].status).toBe('skipped');
    expect(steps[10].status).toBe('passed');
    expect(steps[10].detail).toMatch(/^dropped firebreak_dr_\d+; removed work files$/);
    expect(run.error).toMatch(/^step 4 \(Decrypt and verify checksum\) failed: checksum mismatch/);
    expect(run.rto_ms).toBeNull();
    expect(await scratchDatabases(adminUrl())).not.toContain(`firebreak_dr_${run.id}`);
    const report = t.slack.messagesIn(opsId).find((m) => m.text.startsWith(`DR-${run.id} dry run failed`))!;
    expect(JSON.stringify(report.blocks)).toContain('checksum mismatch');
  });

  it("fails at step 6 with pg_restore's own message", async () => {
    // A grant to a role that is gone by restore time: the classic "globals not restored" failure.
    const role = `dr_gone_${Math.floor(Math.random() * 1e9)}`;
    const db = await makeSourceDatabase({ customers: 5, orders: 5 });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`CREATE ROLE ${role}; GRANT SELECT ON customers TO ${role}`);
    const backup = await makeVerifiedBackup(t.app.ctx, db, { snapshotAt: clock.now() });
    await c.query(`REVOKE ALL ON customers FROM ${role}; DROP ROLE ${role}`);
    await c.end();
    try {
      await dr(`dry-run ${backup.id}`);
      const run = await lastRun();
      const steps = stepsOf(run);
      expect(run.status).toBe('failed');
      expect(steps[5].status).toBe('passed');
      expect(steps[6].status).toBe('failed');
      expect(steps[6].detail).toMatch(/pg_restore failed \(exit 1\):.*role "dr_gone_\d+" does not exist/);
      expect(steps[7].status).toBe('skipped');
      expect(steps[10].detail).toMatch(/dropped firebreak_dr_/);
      expect(await scratchDatabases(adminUrl())).not.toContain(`firebreak_dr_${run.id}`);
    } finally {
      await db.drop();
    }
  });

  it('fails at step 8 when a smoke check does not return what it should', async () => {
    t.app.ctx.config.dr.smokeChecks = [...SMOKE, { name: 'big spender exists', sql: 'SELECT max(total) > 1000 FROM orders', expect: 'true' }];
    await dr(`dry-run ${good.id}`);
    const run = await lastRun();
    const steps = stepsOf(run);
    expect(run.status).toBe('failed');
    expect(steps[6].status).toBe('passed');
    expect(steps[8].status).toBe('failed');
    expect(steps[8].detail).toBe('smoke check "big spender exists": expected "true", got "false"');
    expect(steps[10].detail).toMatch(/dropped/);
    expect(await scratchDatabases(adminUrl())).not.toContain(`firebreak_dr_${run.id}`);
  });

  it('fails at step 8 when restored row counts differ from the manifest', async () => {
    const b = await makeVerifiedBackup(t.app.ctx, source, { snapshotAt: clock.now() });
    await t.db.pool.query(`UPDATE backups SET row_counts = jsonb_set(row_counts, '{public.orders}', '1499') WHERE id = $1`, [b.id]);
    await dr(`dry-run ${b.id}`);
    const run = await lastRun();
    expect(stepsOf(run)[8].detail).toBe('row counts differ from the manifest in 1 table(s): public.orders: expected 1499, restored 1500');
  });

  it('runs the post-restore command against the scratch database, and fails at step 7 when it fails', async () => {
    const hook = t.app.ctx.config.dr.postRestore;
    const saved = { ...hook };
    try {
      hook.command = ['psql', '-v', 'ON_ERROR_STOP=1', '-c', 'CREATE TABLE public.hook_ran (at timestamptz)'];
      t.app.ctx.config.dr.smokeChecks = [
        ...SMOKE,
        { name: 'hook ran in the restored database', sql: "SELECT count(*) FROM pg_tables WHERE tablename = 'hook_ran'", expect: '1' },
      ];
      await dr(`dry-run ${good.id}`);
      let run = await lastRun();
      expect(run.status).toBe('passed');
      expect(stepsOf(run)[7].detail).toBe('ran psql; ran post-restore SQL');

      hook.command = ['psql', '-v', 'ON_ERROR_STOP=1', '-c', 'SELECT * FROM no_such_table'];
      await dr(`dry-run ${good.id}`);
      run = await lastRun();
      const steps = stepsOf(run);
      expect(steps[7].status).toBe('failed');
      expect(steps[7].detail).toMatch(/^psql exited 1: .*relation "no_such_table" does not exist/);
      expect(steps[8].status).toBe('skipped');
      expect(await scratchDatabases(adminUrl())).not.toContain(`firebreak_dr_${run.id}`);
    } finally {
      Object.assign(hook, saved);
      delete hook.command;
    }
  });

  it('runs the post-restore command with libpq variables only: no Slack or PagerDuty secret, no password in DATABASE_URL', async () => {
    const hook = t.app.ctx.config.dr.postRestore;
    const saved = { ...hook };
    const dir = mkdtempSync(path.join(tmpdir(), 'fb-hook-env-'));
    const out = path.join(dir, 'env');
    const canaries = { SLACK_BOT_TOKEN: 'xoxb-hook-canary-123', PAGERDUTY_WEBHOOK_SECRETS: 'pd-hook-canary-123' };
    Object.assign(process.env, canaries);
    try {
      hook.command = ['sh', '-c', 'env > "$0"', out];
      await dr(`dry-run ${good.id}`);
      expect((await lastRun()).status).toBe('passed');
      const env = readFileSync(out, 'utf8');
      for (const [name, value] of Object.entries(canaries)) {
        expect(env).not.toContain(name);
        expect(env).not.toContain(value);
      }
      expect(env).toMatch(/^PGDATABASE=firebreak_dr_\d+$/m);
      const dbUrl = /^DATABASE_URL=(.*)$/m.exec(env)![1]!;
      expect(new URL(dbUrl).password).toBe('');
    } finally {
      for (const name of Object.keys(canaries)) delete process.env[name];
      Object.assign(hook, saved);
      delete hook.command;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops at pre-flight when this Firebreak holds no decryption key, before fetching anything', async () => {
    const enc = t.app.ctx.config.backups.encryption;
    const identity = enc.identity;
    enc.identity = undefined;
    try {
      await dr(`dry-run ${good.id}`);
    } finally {
      enc.identity = identity;
    }
    const run = await lastRun();
    const steps = stepsOf(run);
    expect(steps[1].status).toBe('failed');
    expect(steps[1].detail).toMatch(/^no decryption identity: set FIREBREAK_BACKUP_IDENTITY/);
    expect(steps[3].status).toBe('skipped');
  });

  it('refuses an unknown backup before starting, and an unverified one at step 2', async () => {
    const before = await lastRun();
    expect((await dr('dry-run no-such-backup')).join()).toContain('There is no backup `no-such-backup`');
    let run = await lastRun();
    expect(run?.id).toBe(before?.id);
    const b = await makeVerifiedBackup(t.app.ctx, source, { snapshotAt: clock.now() });
    await t.db.pool.query(`UPDATE backups SET status = 'failed' WHERE id = $1`, [b.id]);
    await dr(`dry-run ${b.id}`);
    run = await lastRun();
    expect(stepsOf(run)[2].detail).toMatch(/is failed, not verified/);
  });
});

describe('one drill at a time, and /dr cancel', () => {
  it('runs one of two concurrent requests and tells the other; cancel mid-restore kills pg_restore and leaves no scratch database', async () => {
    const { backup, db } = await slowBackup();
    t.app.ctx.config.dr.smokeChecks = [];
    try {
      const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM dr_runs')).rows[0].n;
      const [a, b] = await Promise.all([
        t.slash(`/dr dry-run ${backup.id}`, { channel: opsId, user: 'U0ALICE' }),
        t.slash(`/dr dry-run ${backup.id}`, { channel: opsId, user: 'U0BOB' }),
      ]);
      const replies = await waitFor('both replies', async () => {
        const r = [...t.slack.replies(a.responseId), ...t.slack.replies(b.responseId)];
        return r.length >= 2 && r;
      });
      // Both are started by the gate; the drill lock lets one run and the other says so in the channel.
      expect(replies.filter((r) => /is starting \(pre-approved\)/.test(r))).toHaveLength(2);
      await waitFor('the refused one to say why', async () =>
        t.slack.messagesIn(opsId).some((m) => new RegExp(`Dry run of ${backup.id} not started: Another drill is (running|starting)`).test(m.text)));
      // The refusal can come while the winner holds the drill lock but has not written its run yet.
      await waitFor('the one drill that runs to be recorded', async () =>
        (await t.db.pool.query('SELECT count(*)::int AS n FROM dr_runs')).rows[0].n === before + 1);

      const running = await waitFor('the restore to be under way', async () => {
        const r = await lastRun();
        return stepsOf(r)[6].status === 'running' && r;
      });
      const scratch = `firebreak_dr_${running.id}`;
      await waitFor('pg_restore to connect', async () => {
        const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_restore'`, [scratch]);
        return rows[0].n > 0;
      });
      const status = await drNow('status');
      expect(status.join('\n')).toMatch(/at step 6\/10 \(Restore \(pg_restore\)\)/);

      const cancel = await drNow('cancel', 'U0CAROL');
      expect(cancel.join('\n')).toContain(`Cancelling DR-${running.id} dry run`);
      await t.settle();
      const run = await lastRun();
      const steps = stepsOf(run);
      expect(run.status).toBe('cancelled');
      expect(run.cancel_requested_by).toBe('U0CAROL');
      expect((await t.db.pool.query('SELECT count(*)::int AS n FROM dr_runs')).rows[0].n).toBe(before + 1);
      expect(steps[6].status).toBe('cancelled');
      expect(steps[7].status).toBe('skipped');
      expect(steps[10].status).toBe('passed');
      expect(run.rto_ms).toBeNull();
      expect(await scratchDatabases(adminUrl())).not.toContain(scratch);
      const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_restore' AND datname = $1`, [scratch]);
      expect(rows[0].n).toBe(0);
      const report = t.slack.messagesIn(opsId).find((m) => m.text.startsWith(`DR-${run.id} dry run`) && !m.thread_ts && m.ts !== run.message_ts)!;
      expect(report.text).toContain('was cancelled (not a pass)');
      expect(report.text).not.toContain('passed');
      const events = (await eventsBy(t.db.pool, { subject: `dr:${run.id}` })).map((e) => e.type);
      expect(events).toEqual(['dr.started', 'dr.cancel_requested', 'dr.cancelled']);
      expect(await dr('cancel')).toEqual(['No drill is running.']);
    } finally {
      await db.drop();
    }
  });
});

describe('the Cancel button', () => {
  it('cancels the drill it is on, and says so when that drill is no longer running', async () => {
    const { backup, db } = await slowBackup();
    t.app.ctx.config.dr.smokeChecks = [];
    try {
      await drNow(`dry-run ${backup.id}`);
      const running = await waitFor('the restore to be under way', async () => {
        const r = await lastRun();
        return stepsOf(r)[6].status === 'running' && r;
      });
      const head = t.slack.messagesIn(opsId).find((m) => m.ts === running.message_ts)!;
      expect(JSON.stringify(head.blocks)).toContain('"action_id":"dr_cancel"');
      const { responseId } = await t.click('dr_cancel', String(running.id), { channel: opsId, messageTs: head.ts, user: 'U0DAVE' });
      await t.settle();
      expect(t.slack.replies(responseId).join()).toContain(`Cancelling DR-${running.id} dry run`);
      const run = await lastRun();
      expect(run.status).toBe('cancelled');
      expect(run.cancel_requested_by).toBe('U0DAVE');
      expect(await scratchDatabases(adminUrl())).not.toContain(`firebreak_dr_${run.id}`);
      const headAfter = t.slack.messagesIn(opsId).find((m) => m.ts === running.message_ts)!;
      expect(JSON.stringify(headAfter.blocks)).not.toContain('dr_cancel');
      const again = await t.click('dr_cancel', String(running.id), { channel: opsId, messageTs: head.ts });
      await t.settle();
      expect(t.slack.replies(again.responseId).join()).toContain(`DR-${running.id} is not running any more.`);
    } finally {
      await db.drop();
    }
  });
});

describe('who may cancel', () => {
  it('refuses /dr cancel and the Cancel button to someone who is neither requester, approver nor incident commander, and audits it', async () => {
    const { backup, db } = await slowBackup();
    t.app.ctx.config.dr.smokeChecks = [];
    const policies = t.app.ctx.config.approvals.actions;
    const saved = policies['dr.dry-run'];
    policies['dr.dry-run'] = { preApproved: true, approvers: ['U0APPROVER'] };
    try {
      await drNow(`dry-run ${backup.id}`, 'U0ALICE');
      const running = await waitFor('the restore to be under way', async () => {
        const r = await lastRun();
        return stepsOf(r)[6].status === 'running' && r;
      });
      const refused = (await drNow('cancel', 'U0MALLORY')).join('\n');
      expect(refused).toContain(`You can't cancel DR-${running.id} dry run`);
      expect(refused).toContain('<@U0APPROVER>');
      const head = t.slack.messagesIn(opsId).find((m) => m.ts === running.message_ts)!;
      const click = await t.click('dr_cancel', String(running.id), { channel: opsId, messageTs: head.ts, user: 'U0MALLORY' });
      await waitFor('the button refusal', async () => t.slack.replies(click.responseId).length > 0);
      expect(t.slack.replies(click.responseId).join()).toContain("You can't cancel");
      expect((await lastRun()).status).toBe('running');
      const refusals = (await eventsBy(t.db.pool, { subject: `dr:${running.id}` })).filter((e) => e.type === 'change.stop_refused');
      expect(refusals.map((e) => e.actor)).toEqual(['U0MALLORY', 'U0MALLORY']);

      // The commander of an open incident may stop it.
      await t.db.pool.query(`INSERT INTO incidents (title, severity, declared_by, commander, declared_at) VALUES ('Primary down', 'P1', 'U0ALICE', 'U0COMMANDER', now())`);
      expect((await drNow('cancel', 'U0COMMANDER')).join()).toContain(`Cancelling DR-${running.id} dry run`);
      await t.settle();
      expect(await lastRun()).toMatchObject({ status: 'cancelled', cancel_requested_by: 'U0COMMANDER' });
    } finally {
      if (saved) policies['dr.dry-run'] = saved; else delete policies['dr.dry-run'];
      await t.db.pool.query(`UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE commander = 'U0COMMANDER'`);
      await db.drop();
    }
  });
});

describe('/dr history and /dr status', () => {
  it('lists runs with RTO/RPO against targets and a trend', async () => {
    await dr(`dry-run ${good.id}`);
    const text = (await dr('history 20')).join('\n');
    expect(text).toMatch(/Last \d+ DR runs/);
    const all = t.slack.responses.at(-1)!.body as { blocks: unknown[] };
    const shown = JSON.stringify(all.blocks);
    expect(shown).toMatch(/dry run\* .* · passed · RTO [\d.]+ (ms|s) ✅ · RPO 12 min 00 s ✅/);
    expect(shown).toMatch(/Trend, oldest → newest \(\d+ measured runs\): RTO [▁▂▃▄▅▆▇█]+/);
    expect(shown).toContain('cancelled');
    expect((await dr('history 0')).join()).toContain('count is a whole number from 1 to 50');
    expect((await dr('status')).join()).toMatch(/No drill is running\. Last: DR-\d+ dry run .* passed, RTO/);
  });
});

describe('/dr execute', () => {
  it('checks its arguments before asking anyone', async () => {
    expect((await dr('execute')).join()).toContain('Usage: `/dr execute &lt;backup-id&gt; --target &lt;database&gt;`');
    expect((await dr(`execute ${good.id} --target Bad-Name`)).join()).toContain('is not a plain database name');
    expect((await dr(`execute ${good.id} --target firebreak_dr_9`)).join()).toContain('reserved for drill scratch databases');
    expect((await dr('execute nope --target recovered')).join()).toContain('There is no backup `nope`');
  });

  it('waits for two approvers besides the requester, recovers into the target and says how to switch traffic', async () => {
    const target = `recovered_${Math.floor(Math.random() * 1e9)}`;
    const runsBefore = (await t.db.pool.query('SELECT count(*)::int AS n FROM dr_runs')).rows[0].n;
    const replies = await dr(`execute ${good.id} --target ${target}`);
    expect(replies.join()).toMatch(/waiting for approval \(change request #\d+, 2 approval\(s\) needed/);
    const changeId = Number(/#(\d+)/.exec(replies.join())![1]);
    const changes = t.app.services.changes;
    expect((await changes.approve(changeId, 'U0ALICE')).status).toBe('refused');
    expect((await changes.approve(changeId, 'U0BOB')).status).toBe('recorded');
    await t.settle();
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM dr_runs')).rows[0].n).toBe(runsBefore);
    expect((await changes.approve(changeId, 'U0CAROL')).status).toBe('approved');
    await t.settle();
    const run = await lastRun();
    try {
      expect(run.kind).toBe('execute');
      expect(run.status).toBe('passed');
      expect(run.target_database).toBe(target);
      expect(run.approvers).toEqual(['U0BOB', 'U0CAROL']);
      expect(Number(run.change_request_id)).toBe(changeId);
      const steps = stepsOf(run);
      expect(run.steps).toHaveLength(10);
      expect(steps[10].detail).toMatch(new RegExp(`Set DATABASE_URL to postgres://.*/${target} and restart the API pods\\.`));
      expect(steps[5].detail).toMatch(`created ${target}`);
      const c = new pg.Client({ connectionString: adminUrl().replace(/\/[^/]*$/, `/${target}`) });
      await c.connect();
      expect((await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(1500);
      await c.end();
      const report = t.slack.messagesIn(opsId).find((m) => m.text.startsWith(`DR-${run.id} recovery passed`))!;
      expect(JSON.stringify(report.blocks)).toContain('Next: switch traffic');
      expect((await changes.get(changeId))!.status).toBe('executed');
    } finally {
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
      await c.end();
    }
  });
});

describe('scheduled drill', () => {
  it('alerts the ops channel when the scheduled drill fails, and when drills are overdue', async () => {
    const svc = service();
    t.app.ctx.config.dr.database = 'no_such_database';
    try {
      const started = await svc.scheduledDrill(clock.now());
      expect(started).toBeDefined();
      await t.settle();
      const run = await lastRun();
      expect(run.trigger).toBe('schedule');
      expect(run.status).toBe('failed');
      expect(stepsOf(run)[2].detail).toBe('no verified backup of no_such_database to restore');
      const alert = t.slack.messagesIn(opsId).find((m) => m.text.includes(`Scheduled DR drill DR-${run.id} dry run failed`));
      expect(alert).toBeDefined();
    } finally {
      t.app.ctx.config.dr.database = undefined;
    }
    expect(await svc.checkOverdue()).toBe(false);
    clock.advance(36 * 86_400_000);
    try {
      expect(await svc.checkOverdue()).toBe(true);
      expect(t.slack.messagesIn(opsId).at(-1)!.text).toMatch(/DR drill missed: no DR dry run for 36 d 0 h \(limit 35 days\)/);
    } finally {
      clock.advance(-36 * 86_400_000);
    }
  });
});
