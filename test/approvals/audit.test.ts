import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/db.js';
import { appendEvent, eventHash, GENESIS_HASH } from '../../src/events/log.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { latestAnchor, publishAnchor } from '../../src/audit/anchor.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { auditCli } from '../../src/cli/audit.js';
import { runCli } from '../support/cli.js';
import { parseAuditFilter } from '../../src/commands/audit.js';

/**
 * The audit log is the hash-chained event log. The application cannot change it (trigger and,
 * for a non-owner role, grants); a superuser can, and these tests play that superuser to show
 * that verify catches an edited row, a deleted row and rows deleted from the end.
 */

// The CLI reads anchors from the configured backup store, by default under the checkout's .data,
// where a developer's console (or any other run) may have published anchors of another database.
process.env.FIREBREAK_DATA_DIR = mkdtempSync(path.join(tmpdir(), 'fb-audit-data-'));

async function seeded(n: number): Promise<TestDatabase> {
  const db = await createTestDatabase('fb_audit');
  for (let i = 1; i <= n; i++) {
    await appendEvent(db.pool, { type: i % 2 ? 'change.approved' : 'backup.completed', actor: 'U0BOB', subject: `change:${i}`, payload: { n: i }, at: new Date(Date.UTC(2026, 2, 1, 0, i)) });
  }
  return db;
}

/** Seeds six events, tampers with them through `sql`, and checks the verdict; the database is dropped after. */
async function afterTampering(sql: string, check: (v: Awaited<ReturnType<typeof verifyAuditLog>>, db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await seeded(6);
  try {
    await tamper(db, sql);
    await check(await verifyAuditLog(db.pool), db);
  } finally {
    await db.drop();
  }
}

/** Runs SQL as the superuser with the append-only triggers off: what a tamperer with full rights does. */
async function tamper(db: TestDatabase, sql: string): Promise<void> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('ALTER TABLE events DISABLE TRIGGER USER');
    await c.query(sql);
    await c.query('ALTER TABLE events ENABLE TRIGGER USER');
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

const cliVerify = (url: string) => runCli(auditCli, 'verify', ['--database-url', url]);

describe('verify', () => {
  it('passes an intact log and prints its head', async () => {
    const db = await seeded(5);
    try {
      const v = await verifyAuditLog(db.pool);
      expect(v).toMatchObject({ ok: true, checked: 5, lastId: 5 });
      const cli = await cliVerify(db.url);
      expect(cli.code).toBe(0);
      expect(cli.out[0]).toMatch(new RegExp(`Audit log intact: 5 entries recomputed.*Head: #5 ${v.headHash}`));
      // The real entry point, as an operator or a cron job runs it: DATABASE_URL from the environment.
      const { stdout } = await promisify(execFile)('node', ['--import', 'tsx', 'src/cli.ts', 'audit', 'verify'], { env: { ...process.env, DATABASE_URL: db.url } });
      expect(stdout).toContain(`Head: #5 ${v.headHash}`);
    } finally {
      await db.drop();
    }
  });

  it('the application cannot update, delete or truncate audit rows', async () => {
    const db = await seeded(2);
    try {
      await expect(db.pool.query(`UPDATE events SET actor = 'U0MALLORY' WHERE id = 1`)).rejects.toThrow(/append-only: UPDATE refused/);
      await expect(db.pool.query('DELETE FROM events WHERE id = 2')).rejects.toThrow(/append-only: DELETE refused/);
      await expect(db.pool.query('TRUNCATE events CASCADE')).rejects.toThrow(/append-only: TRUNCATE refused/);
      await expect(db.pool.query('UPDATE events_head SET last_id = 1, event_count = event_count - 1')).rejects.toThrow(/only moves forward/);
      expect((await verifyAuditLog(db.pool)).ok).toBe(true);
    } finally {
      await db.drop();
    }
  });

  it('a non-owner application role may append and read but is refused UPDATE and DELETE, and cannot turn the trigger off', async () => {
    const db = await seeded(2);
    const role = `fb_app_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    try {
      await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await db.pool.query(`GRANT CONNECT ON DATABASE ${db.name} TO ${role}`);
      await db.pool.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      // An operator grants the app everything on the other tables, then restricts the log.
      await db.pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      await db.pool.query(`SELECT audit_restrict_role('${role}')`);
      const url = new URL(db.url);
      url.username = role;
      url.password = password;
      const app = new pg.Pool({ connectionString: url.toString(), max: 1 });
      try {
        await appendEvent(app, { type: 'change.requested', actor: 'U0ALICE', at: new Date(), payload: { by: 'app role' } });
        await expect(app.query(`UPDATE events SET actor = 'x'`)).rejects.toThrow(/permission denied/);
        await expect(app.query('DELETE FROM events')).rejects.toThrow(/permission denied/);
        await expect(app.query('ALTER TABLE events DISABLE TRIGGER USER')).rejects.toThrow(/must be owner/);
        await expect(app.query('UPDATE events_head SET last_id = 0')).rejects.toThrow(/permission denied/);
      } finally {
        await app.end();
      }
      expect(await verifyAuditLog(db.pool)).toMatchObject({ ok: true, checked: 3 });
    } finally {
      await db.drop();
      const admin = new pg.Client({ connectionString: adminUrl() });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
    }
  });

  it('names an edited row', async () => {
    await afterTampering(`UPDATE events SET payload = '{"n": 300}' WHERE id = 3`, async (v, db) => {
      expect(v).toMatchObject({ ok: false, checked: 2, firstBroken: { id: 3 } });
      expect(v.firstBroken!.reason).toMatch(/do not match its hash \(the row was edited\)/);
      const cli = await cliVerify(db.url);
      expect(cli.code).toBe(1);
      expect(cli.err[0]).toMatch(/Audit log BROKEN at entry #3: .*edited.*2 entries before it check out/);
    });
  });

  it('names the row after a deleted one', async () => {
    await afterTampering('DELETE FROM events WHERE id = 4', async (v) => {
      expect(v).toMatchObject({ ok: false, checked: 3, firstBroken: { id: 5 } });
      expect(v.firstBroken!.reason).toMatch(/deleted or changed/);
    });
  });

  it('detects rows deleted from the end, which leave a valid chain behind', async () => {
    await afterTampering('DELETE FROM events WHERE id >= 5', async (v, db) => {
      expect(v).toMatchObject({ ok: false, checked: 4, firstBroken: { id: 5 } });
      expect(v.firstBroken!.reason).toMatch(/ends at #4 but #6 was appended .*2 rows at the end were deleted/);
      expect((await cliVerify(db.url)).code).toBe(1);
      const exit = await promisify(execFile)('node', ['--import', 'tsx', 'src/cli.ts', 'audit', 'verify'], { env: { ...process.env, DATABASE_URL: db.url } }).then(() => 0, (e: { code: number; stderr: string }) => {
        expect(e.stderr).toMatch(/BROKEN at entry #5/);
        return e.code;
      });
      expect(exit).toBe(1);
    });
  });

  it('detects a forged row re-hashed and inserted with the triggers off', async () => {
    const db = await seeded(3);
    try {
      // A tamperer who recomputes the hash correctly still cannot move the head without it showing.
      const last = (await db.pool.query<{ hash: string }>('SELECT hash FROM events ORDER BY id DESC LIMIT 1')).rows[0]!.hash;
      const forged = { id: 99, at: new Date('2026-03-01T01:00:00Z'), actor: 'U0BOB', type: 'change.approved', incidentId: null, subject: 'change:9', payload: {} };
      const hash = eventHash(last, forged);
      await tamper(db, `INSERT INTO events (id, at, actor, type, subject, payload, prev_hash, hash) VALUES (99, '${forged.at.toISOString()}', 'U0BOB', 'change.approved', 'change:9', '{}', '${last}', '${hash}')`);
      const v = await verifyAuditLog(db.pool);
      expect(v).toMatchObject({ ok: false, checked: 4, firstBroken: { id: 99 } });
      expect(v.firstBroken!.reason).toMatch(/does not match the recorded head #3/);
    } finally {
      await db.drop();
    }
  });
});

describe('/audit in Slack', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ config: { approvals: { approvers: ['U0BOB'] } } });
    const gate = t.app.services.changes;
    gate.register<{ db: string }>({ kind: 'test.restore', describe: (p) => `Restore ${p.db}`, execute: async () => ({ ok: true, summary: 'restored' }) });
    const out = await gate.request('test.restore', { db: 'orders' }, { userId: 'U0ALICE' });
    await t.settle();
    const id = (out as { requestId: number }).requestId;
    const hash = (await t.db.pool.query('SELECT params_hash FROM change_requests WHERE id = $1', [id])).rows[0].params_hash as string;
    await t.click('change_approve', `${id}:${hash}`, { user: 'U0BOB' });
    await t.settle();
    // Something that is not an audit kind: timeline noise stays out of /audit log.
    await appendEvent(t.db.pool, { type: 'incident.note', actor: 'U0BOB', at: new Date(), payload: { text: 'looking' } });
    await t.slash('/incident declare P2 Checkout errors', { user: 'U0DAVE' });
    await t.settle();
  }, 120_000);
  afterAll(() => t.stop());

  const run = async (line: string, user = 'U0CAROL') => {
    const { responseId } = await t.slash(line, { user });
    await t.settle();
    return t.slack.replies(responseId).join('\n');
  };

  it('/audit log shows recent audit entries newest first, and filters', async () => {
    const incident = await run('/audit log incident');
    expect(incident).toMatch(/`incident.declared` INC-\d+ by <@U0DAVE> — Checkout errors/);
    const all = await run('/audit log change');
    expect(all).toMatch(/\*Audit log\* \(4 most recent matching `change`\)/);
    const lines = all.split('\n').slice(1);
    expect(lines.map((l) => /`(change\.[a-z_]+)`/.exec(l)?.[1])).toEqual(['change.executed', 'change.started', 'change.approved', 'change.requested']);
    expect(all).not.toContain('incident.note');
    expect(lines[2]).toMatch(/change:\d+ by <@U0BOB>/);
    const approved = await run('/audit log change.approved');
    expect(approved).toMatch(/\(1 most recent matching `change.approved`\)/);
    const byAlice = await run('/audit log <@U0ALICE|alice>');
    expect(byAlice).toMatch(/`change.requested`/);
    expect(byAlice).not.toMatch(/change.approved/);
    expect(await run('/audit log dr')).toMatch(/No audit entries matching `dr`/);
    expect(await run('/audit log --limit 2')).toMatch(/\(2 most recent\)/);
    expect(await run('/audit log')).toMatch(/\(5 most recent\)/);
    expect(await run('/audit log "x; DROP TABLE events"')).toMatch(/can't filter the audit log by `x; DROP TABLE events`/);
  });

  it('/audit verify reports an intact chain, then names the edited row', async () => {
    expect(await run('/audit verify')).toMatch(/Audit log intact: \d+ entries recomputed/);
    const { rows } = await t.db.pool.query<{ id: number }>(`SELECT id FROM events WHERE type = 'change.approved'`);
    const c = await t.db.pool.connect();
    try {
      await c.query('ALTER TABLE events DISABLE TRIGGER events_no_update');
      await c.query(`UPDATE events SET actor = 'U0MALLORY' WHERE id = $1`, [rows[0]!.id]);
      await c.query('ALTER TABLE events ENABLE TRIGGER events_no_update');
    } finally {
      c.release();
    }
    expect(await run('/audit verify')).toMatch(new RegExp(`Audit log BROKEN at entry #${rows[0]!.id}: its contents do not match its hash`));
  });
});

/**
 * The owner of `events` can disable its triggers, edit a row and re-chain every later hash
 * and events_head: the chain and the head then agree again. An anchor published earlier
 * outside the database is what contradicts it.
 */
async function rewriteAndRechain(db: TestDatabase, id: number): Promise<void> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('ALTER TABLE events DISABLE TRIGGER USER');
    await c.query('ALTER TABLE events_head DISABLE TRIGGER USER');
    await c.query(`UPDATE events SET actor = 'U0MALLORY' WHERE id = $1`, [id]);
    const { rows } = await c.query('SELECT * FROM events ORDER BY id');
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const hash = eventHash(prev, { id: r.id, at: r.at, actor: r.actor, type: r.type, incidentId: r.incident_id, subject: r.subject, payload: r.payload });
      await c.query('UPDATE events SET prev_hash = $1, hash = $2 WHERE id = $3', [prev, hash, r.id]);
      prev = hash;
    }
    await c.query('UPDATE events_head SET head_hash = $1', [prev]);
    await c.query('ALTER TABLE events ENABLE TRIGGER USER');
    await c.query('ALTER TABLE events_head ENABLE TRIGGER USER');
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

describe('the anchor outside the database', () => {
  it('detects a rewritten and re-chained history, naming the anchor it contradicts', async () => {
    const db = await seeded(5);
    const dir = mkdtempSync(path.join(tmpdir(), 'fb-anchors-'));
    const store = new LocalObjectStore(dir);
    try {
      const published = await publishAnchor({ pool: db.pool, store, clock: systemClock, log: createLogger({ level: 'silent' }) });
      expect(published.created).toBe(true);
      expect(published.key).toMatch(/^audit-anchors\/0+5-[0-9a-f]{64}\.json$/);
      // Write-once: publishing the same head again writes nothing.
      expect((await publishAnchor({ pool: db.pool, store, clock: systemClock, log: createLogger({ level: 'silent' }) })).created).toBe(false);
      const originalHead = published.anchor.headHash;
      await appendEvent(db.pool, { type: 'change.approved', actor: 'U0BOB', subject: 'change:6', payload: { n: 6 }, at: new Date(Date.UTC(2026, 2, 1, 0, 6)) });

      await rewriteAndRechain(db, 3);
      // Without the anchor the rewrite is invisible: chain and head agree.
      expect(await verifyAuditLog(db.pool)).toMatchObject({ ok: true, checked: 6 });

      const v = await verifyAuditLog(db.pool, [(await latestAnchor(store))!]);
      expect(v.ok).toBe(false);
      expect(v.firstBroken!.id).toBe(5);
      expect(v.firstBroken!.reason).toContain(`anchor ${published.key} recorded ${originalHead}`);

      // The CLI reads the latest anchor from the backup store and takes a head kept by hand.
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
      process.env.FIREBREAK_BACKUP_DIR = dir;
      try {
        expect(await auditCli.run('verify', ['--database-url', db.url], io)).toBe(1);
        expect(err.join('\n')).toContain(published.key);
        expect(await auditCli.run('verify', ['--database-url', db.url, '--no-anchor', '--expect-head', originalHead], io)).toBe(1);
        expect(err.join('\n')).toMatch(/no entry has the hash .* given as --expect-head/);
      } finally {
        delete process.env.FIREBREAK_BACKUP_DIR;
      }
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('/audit anchor and /audit verify in Slack', () => {
  it('publishes the head to the audit channel and the backup store, and /audit verify names the anchor a re-chained history contradicts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fb-anchors-slack-'));
    const t = await startTestApp({ seedChannels: ['incidents', 'ops', 'approvals', 'audit'], config: { backups: { storage: { localDir: dir } } } });
    try {
      for (let i = 1; i <= 3; i++) await appendEvent(t.db.pool, { type: 'change.approved', actor: 'U0BOB', subject: `change:${i}`, payload: { n: i }, at: new Date() });
      const run = async (line: string) => {
        const { responseId } = await t.slash(line, { user: 'U0CAROL' });
        await t.settle();
        return t.slack.replies(responseId).join('\n');
      };
      expect(await run('/audit anchor')).toMatch(/Published: entry #3, 3 entries, head [0-9a-f]{64} \(audit-anchors\/0+3-[0-9a-f]{64}\.json\)/);
      expect(t.slack.messagesIn('audit').map((m) => m.text).join()).toMatch(/Audit anchor: entry #3, 3 entries, head [0-9a-f]{64}/);
      expect(await run('/audit verify')).toMatch(/Audit log intact: 3 entries recomputed.*agrees with audit-anchors\/0+3-/);
      await rewriteAndRechain(t.db, 2);
      expect(await run('/audit verify')).toMatch(/Audit log BROKEN at entry #3: entry #3 has hash [0-9a-f]{64} but anchor audit-anchors\/0+3-[0-9a-f]{64}\.json recorded/);
    } finally {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('parseAuditFilter', () => {
  it.each([
    ['change', { type: 'change' }],
    ['dr.passed', { type: 'dr.passed' }],
    ['incident.declared', { type: 'incident.declared' }],
    ['change:12', { subject: 'change:12' }],
    ['INC-7', { incidentId: 7 }],
    ['<@U0BOB|bob> backup --limit 5', { actor: 'U0BOB', type: 'backup', limit: 5 }],
  ])('%s', (text, want) => {
    expect(parseAuditFilter(text)).toEqual(want);
  });

  it.each([['--limit 500'], ['paging'], ['"; drop"']])('refuses %s with a hint', (text) => {
    expect(parseAuditFilter(text)).toMatchObject({ error: expect.stringMatching(/limit|can't filter/) });
  });
});
