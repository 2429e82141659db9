import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { backupCli } from '../../src/cli/backup.js';
import { generateIdentity } from '../../src/backups/age.js';
import { createEmptyDatabase, createTestDatabase, dropDatabase, urlFor, type TestDatabase } from '../support/db.js';
import { seedSampleData, tableContents } from '../support/backups.js';
import { runCliText } from '../support/cli.js';

let db: TestDatabase;
let src: { name: string; url: string; drop(): Promise<void> };
const saved = { ...process.env };
const made: string[] = [];

const cli = (verb: string, ...args: string[]) => runCliText(backupCli, verb, args);

beforeAll(async () => {
  db = await createTestDatabase('fb_bkcli');
  src = await createEmptyDatabase('fb_clisrc');
  await seedSampleData(src.url, 120);
  const keys = generateIdentity();
  const dir = mkdtempSync(path.join(tmpdir(), 'fb-bk-cli-'));
  const file = path.join(dir, 'firebreak.yml');
  writeFileSync(file, stringify({
    backups: { databases: [{ name: 'shop', url: src.url }], storage: { localDir: path.join(dir, 'store') } },
    approvals: { actions: { 'backup.now': { preApproved: true } } },
  }));
  Object.assign(process.env, {
    FIREBREAK_CONFIG: file, DATABASE_URL: db.url, FIREBREAK_BACKUP_RECIPIENT: keys.recipient, FIREBREAK_BACKUP_IDENTITY: keys.identity, LOG_LEVEL: 'silent',
  });
});

afterAll(async () => {
  process.env = saved;
  for (const d of made) await dropDatabase(d).catch(() => {});
  await src?.drop();
  await db?.drop();
});

describe('firebreak backup', () => {
  it('now, list, show, verify --full, restore into a new database, expire --dry-run', async () => {
    const now = await cli('now', 'shop');
    expect(now.code).toBe(0);
    expect(now.out).toMatch(/Backup \d{8}T\d{6}Z-shop-[0-9a-f]{4} of shop is good/);
    const id = /Backup (\S+) of shop/.exec(now.out)![1]!;

    const list = await cli('list');
    expect(list.out).toContain(id);
    const show = await cli('show', id, '--json');
    expect(JSON.parse(show.out)).toMatchObject({ id, status: 'verified', rowCounts: { 'public.customers': 120 } });

    const verify = await cli('verify', id, '--full');
    expect(verify.code).toBe(0);
    expect(verify.out).toMatch(/full restore ✓/);

    const into = `fb_cli_restored_${Date.now().toString(36)}`;
    made.push(into);
    const restore = await cli('restore', id, into);
    expect(restore.code).toBe(0);
    expect(await tableContents(urlFor(into))).toEqual(await tableContents(src.url));

    // The CLI has no approval flow: an existing database is refused, untouched.
    const again = await cli('restore', id, into);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`database ${into} already exists`);

    const plan = await cli('expire', '--dry-run');
    expect(plan.code).toBe(0);
    expect(plan.out).toMatch(new RegExp(`Retention plan \\(dry run: nothing deleted\\)[\\s\\S]*keep\\s+${id} \\(newest`));
  });

  it('refuses a backup the change policy does not pre-approve, since the CLI cannot collect approvals', async () => {
    const file = process.env.FIREBREAK_CONFIG!;
    const strict = file.replace(/\.yml$/, '.strict.yml');
    writeFileSync(strict, stringify({ backups: { databases: [{ name: 'shop', url: src.url }], storage: { localDir: path.join(path.dirname(file), 'store') } } }));
    process.env.FIREBREAK_CONFIG = strict;
    try {
      const r = await cli('now');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/need an approval.*\/backup now/);
    } finally {
      process.env.FIREBREAK_CONFIG = file;
    }
  });

  it('bad input gets a clear message and exit code, not a stack trace', async () => {
    expect((await cli('now', 'nosuch')).err).toContain('no database named "nosuch"');
    expect((await cli('show')).err).toContain('usage: firebreak backup show <id>');
    expect((await cli('show', '20260101T000000Z-shop-ffff')).err).toContain('no backup with id 20260101T000000Z-shop-ffff');
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('restore', '20260101T000000Z-shop-ffff', 'Bad-Name')).err).toContain('is not a plain database name');
  });
});
