/**
 * Children get only what they need: a pg_dump caught while it runs holds no Slack or
 * PagerDuty secret in its environment, and no password in its argv, even when the password
 * came in the URL's query string.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';
import { backupTestConfig, seedSampleData } from '../support/backups.js';
import { runBackup } from '../../src/backups/pipeline.js';
import { libpqArgs } from '../../src/backups/pgtools.js';
import { redactUrl } from '../../src/log.js';
import { systemClock } from '../../src/clock.js';

const CANARIES = {
  SLACK_BOT_TOKEN: 'xoxb-canary-child-env-000111',
  SLACK_SIGNING_SECRET: 'canary-signing-secret-000111',
  PAGERDUTY_ROUTING_KEY: 'canary-routing-key-000111',
  PAGERDUTY_WEBHOOK_SECRETS: 'canary-pd-webhook-secret-000111',
};
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const ROLE = `fb_childenv_${randomBytes(4).toString('hex')}`;

let db: TestDatabase;
let src: { name: string; url: string; drop(): Promise<void> };
const saved: Record<string, string | undefined> = {};

async function asAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  for (const [k, v] of Object.entries(CANARIES)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  db = await createTestDatabase('fb_childenv');
  src = await createEmptyDatabase('fb_childenv_src');
  await seedSampleData(src.url, 50);
  await asAdmin(adminUrl(), (c) => c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`));
  await asAdmin(src.url, (c) => c.query(`GRANT USAGE ON SCHEMA public, billing TO ${ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA public, billing TO ${ROLE}; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, billing TO ${ROLE}`));
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  await src.drop();
  await asAdmin(adminUrl(), (c) => c.query(`DROP ROLE IF EXISTS ${ROLE}`)).catch(() => {});
  await db.drop();
});

/** Our own child named `comm` with `argPart` in its argv (not the --version probe), once it exists: read from /proc as any local user could. */
async function childNamed(comm: string, argPart: string, signal: AbortSignal): Promise<number> {
  while (!signal.aborted) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
        if (m && m[1] === comm && Number(m[2]) === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(argPart)) return Number(entry);
      } catch {
        // the process ended while we looked
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`no ${comm} child appeared`);
}

describe('child process environment', () => {
  it('pg_dump runs with no Slack or PagerDuty secret and no password in argv, from a ?password= URL', async () => {
    const u = new URL(src.url);
    u.username = ROLE;
    u.password = '';
    u.searchParams.set('password', PASSWORD);
    const url = u.toString();
    const keyed = await backupTestConfig({ databases: { childenv: url } });
    // Holding a lock on a table the dump must read keeps pg_dump alive until we have looked.
    const locker = new pg.Client({ connectionString: src.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE customers IN ACCESS EXCLUSIVE MODE');
    const backup = runBackup({ pool: db.pool, config: keyed.config, clock: systemClock }, { name: 'childenv', url }, { tier: 'manual', requestedBy: 'test' });
    const gaveUp = new AbortController();
    backup.finally(() => gaveUp.abort()).catch(() => {});
    let environ: string[];
    let cmdline: string;
    try {
      const pid = await childNamed('pg_dump', '--format=custom', gaveUp.signal);
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    const { error } = await backup;
    expect(error).toBeUndefined();
    const names = environ.map((l) => l.slice(0, l.indexOf('=')));
    for (const [name, value] of Object.entries(CANARIES)) {
      expect(names).not.toContain(name);
      expect(environ.join('\n')).not.toContain(value);
    }
    expect(cmdline).toContain('pg_dump');
    expect(cmdline).not.toContain(PASSWORD);
    expect(cmdline).not.toMatch(/password=/);
    expect(environ).toContain(`PGPASSWORD=${PASSWORD}`);
    expect(names).toContain('PATH');
  });

  it('moves a query-string password out of the URL and redacts it in logs', () => {
    const { url, env } = libpqArgs({ url: `postgres://app@db.example:5432/prod?sslmode=require&password=${PASSWORD}` });
    expect(url).not.toContain(PASSWORD);
    expect(url).toContain('sslmode=require');
    expect(env.PGPASSWORD).toBe(PASSWORD);
    expect(env.SLACK_BOT_TOKEN).toBeUndefined();
    expect(redactUrl(`postgres://app@db.example:5432/prod?password=${PASSWORD}`)).not.toContain(PASSWORD);
  });
});
