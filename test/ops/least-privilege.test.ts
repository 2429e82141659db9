/**
 * Least privilege as the README documents it: the owner role runs `firebreak migrate
 * --app-role`, and the real process (src/main.ts) then runs as that non-owner role. It
 * starts without any DDL, declares an incident, takes a pre-approved backup, and the role
 * cannot rewrite the audit log. Before the migration it refuses to start, naming the command.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlack } from '../support/fake-slack.js';
import { sign } from '../support/app.js';
import { adminUrl, createEmptyDatabase } from '../support/db.js';
import { generateIdentity } from '../../src/backups/age.js';
import { killIfRunning, startFirebreak, type FirebreakProcess } from './support/process.js';

const hex = (n: number) => randomBytes(n).toString('hex');
const ROLE = `fb_app_${hex(4)}`;
const PASSWORD = `pw${hex(10)}`;
const SIGNING_SECRET = `sign${hex(16)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-leastpriv-'));
let db: { name: string; url: string; drop(): Promise<void> };
let appUrl: string;
let slack: FakeSlack;
let p: FirebreakProcess | undefined;

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  db = await createEmptyDatabase('fb_leastpriv');
  await sql(adminUrl(), `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  // Whatever the server version: no one but the owner may create objects in public here.
  await sql(db.url, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  const u = new URL(db.url);
  u.username = ROLE;
  u.password = PASSWORD;
  appUrl = u.toString();
  slack = await new FakeSlack().start();
  for (const c of ['incidents', 'ops', 'approvals', 'audit']) slack.addChannel(c);
});

afterAll(async () => {
  await killIfRunning(p);
  await slack?.stop();
  await db?.drop();
  await sql(adminUrl(), `DROP OWNED BY ${ROLE}`).catch(() => {});
  await sql(adminUrl(), `DROP ROLE IF EXISTS ${ROLE}`).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

function envFor(): Record<string, string> {
  const keys = generateIdentity();
  const config = path.join(dir, 'firebreak.yml');
  writeFileSync(config, [
    'approvals:',
    '  actions:',
    '    backup.now: { preApproved: true }',
    'backups:',
    '  databases:',
    `    - { name: state, url: "${appUrl}" }`,
    `  storage: { localDir: "${path.join(dir, 'backups')}" }`,
    '',
  ].join('\n'));
  return {
    DATABASE_URL: appUrl, FIREBREAK_CONFIG: config, FIREBREAK_DATA_DIR: dir, SLACK_BOT_TOKEN: `xoxb-${hex(12)}`,
    SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.url, FIREBREAK_BACKUP_RECIPIENT: keys.recipient, FIREBREAK_BACKUP_IDENTITY: keys.identity,
  };
}

function slash(text: string) {
  const body = new URLSearchParams({
    command: text.split(' ')[0]!, text: text.split(' ').slice(1).join(' '), user_id: 'U0ALICE', user_name: 'alice', channel_id: slack.channel('ops')!.id,
    team_id: 'T0TEST', trigger_id: `trig-${hex(6)}`, response_url: slack.responseUrl(hex(4)), api_app_id: 'A0TEST', token: 'legacy',
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return fetch(`${p!.url}/slack/events`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SIGNING_SECRET, ts, body) },
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('running as a non-owner application role', () => {
  it('refuses to start while migrations are pending, naming firebreak migrate', async () => {
    const env = envFor();
    const { execPath } = process;
    const err = await promisify(execFile)(execPath, ['--import', 'tsx', 'src/main.ts'], { env: { PATH: process.env.PATH ?? '', HOME: dir, PORT: '0', ...env } })
      .then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(new RegExp(`migration\\(s\\) are pending .* this database role \\(${ROLE}\\) cannot apply them`));
    expect(err?.stderr).toContain(`Run \`firebreak migrate --app-role ${ROLE}\``);
  });

  it('after `firebreak migrate --app-role`, starts with no DDL, declares, backs up, and cannot rewrite the audit log', async () => {
    const migrateCli = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, DATABASE_URL: db.url, FIREBREAK_DATA_DIR: dir },
    });
    // Migrated but never granted: the role cannot even read the migration record, and is told what to run.
    expect((await migrateCli()).stdout).toMatch(/applied \d+ migration\(s\)[\s\S]*no application role given/);
    const ungranted = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { PATH: process.env.PATH ?? '', HOME: dir, PORT: '0', ...envFor() } })
      .then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(ungranted?.code).toBe(1);
    expect(ungranted?.stderr).toContain(`Run \`firebreak migrate --app-role ${ROLE}\``);

    const { stdout } = await migrateCli('--app-role', ROLE);
    expect(stdout).toContain('no pending migrations');
    expect(stdout).toContain(`granted role ${ROLE}`);
    expect((await sql<{ owner: string }>(db.url, `SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'events'`))[0]!.owner).not.toBe(ROLE);

    p = await startFirebreak(envFor());
    expect((await slash('/incident declare P2 Least privilege drill')).status).toBe(200);
    await until('the incident', async () => (await sql(db.url, `SELECT id FROM incidents WHERE title = 'Least privilege drill'`)).length > 0);
    expect((await slash('/backup now state')).status).toBe(200);
    const backup = await until('a verified backup', async () => {
      const rows = await sql<{ status: string; error: string | null }>(db.url, `SELECT status, error FROM backups ORDER BY started_at DESC LIMIT 1`);
      // running → uploaded (landed) → verified: wait for the end.
      return rows[0] && !['running', 'uploaded'].includes(rows[0].status) && rows[0];
    }, 120_000);
    expect(backup).toMatchObject({ status: 'verified' });
    // Both were appended to the audit log by the app role.
    const types = (await sql<{ type: string }>(db.url, 'SELECT type FROM events ORDER BY id')).map((r) => r.type);
    expect(types).toContain('incident.declared');
    expect(types.some((t) => t.startsWith('backup.'))).toBe(true);

    for (const attack of [
      `UPDATE events SET actor = 'U0MALLORY'`,
      'DELETE FROM events',
      'TRUNCATE events',
      'ALTER TABLE events DISABLE TRIGGER USER',
      'ALTER TABLE events ADD COLUMN note text',
      `UPDATE events_head SET event_count = 0`,
      'CREATE TABLE sneaky (id int)',
    ]) {
      await expect(sql(appUrl, attack), attack).rejects.toThrow(/permission denied|must be owner/);
    }
  }, 240_000);
});
