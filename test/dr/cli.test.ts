import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, adminUrl, type TestDatabase } from '../support/db.js';
import { runCli } from '../support/cli.js';
import { configSchema } from '../../src/config/schema.js';
import { generateIdentity } from '../../src/backups/age.js';
import type { BackupRecord } from '../../src/backups/model.js';
import { drCli } from '../../src/cli/dr.js';
import { makeSourceDatabase, makeVerifiedBackup, scratchDatabases, spreadRunIds, type SourceDatabase } from './support.js';

let state: TestDatabase;
let source: SourceDatabase;
let backup: BackupRecord;

beforeAll(async () => {
  state = await createTestDatabase();
  await spreadRunIds(state.pool);
  const key = generateIdentity();
  const dir = mkdtempSync(path.join(tmpdir(), 'fb-drcli-'));
  // The CLI reads its configuration from the environment, as an operator's shell would give it.
  const policy = path.join(dir, 'firebreak.yml');
  writeFileSync(policy, "approvals:\n  actions:\n    dr.dry-run:\n      preApproved: true\n");
  Object.assign(process.env, {
    FIREBREAK_CONFIG: policy,
    DATABASE_URL: state.url, FIREBREAK_BACKUP_DIR: dir, FIREBREAK_BACKUP_RECIPIENT: key.recipient, FIREBREAK_BACKUP_IDENTITY: key.identity,
  });
  const config = configSchema.parse({ databaseUrl: state.url, backups: { storage: { localDir: dir }, encryption: { recipient: key.recipient, identity: key.identity } } });
  source = await makeSourceDatabase({ customers: 20, orders: 40 });
  backup = await makeVerifiedBackup({ pool: state.pool, config }, source, { snapshotAt: new Date(Date.now() - 90_000) });
});
afterAll(async () => {
  await state?.drop();
  await source?.drop();
});

const cli = (verb: string, ...args: string[]) => runCli(drCli, verb, args);

describe('firebreak dr (without Slack)', () => {
  it('runs a dry run, printing each step once as it starts and ends, and records it like a chat drill', async () => {
    const r = await cli('dry-run');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    expect(text).toMatch(/⏳ 6\. Restore \(pg_restore\)/);
    expect(text).toMatch(/✅ 6\. Restore \(pg_restore\) [\d.]+ (ms|s) — pg_restore -j 2 --exit-on-error into firebreak_dr_\d+/);
    expect(text).toMatch(/✅ 8\. Validate \(row counts, smoke checks\) .*3 tables, 102 rows match the manifest/);
    expect(text).toMatch(/✅ 10\. Clean up the scratch database .*dropped firebreak_dr_\d+/);
    expect(r.out.filter((l) => l.startsWith('✅ 6.'))).toHaveLength(1);
    const last = r.out.at(-1)!;
    expect(last).toMatch(/^DR-\d+ passed: RTO [\d.]+ (ms|s), RPO 1 min \d\d s$/);
    const run = (await state.pool.query('SELECT * FROM dr_runs ORDER BY id DESC LIMIT 1')).rows[0];
    expect(run.status).toBe('passed');
    expect(run.backup_id).toBe(backup.id);
    expect(run.requester).toMatch(/^cli:/);
    expect(await scratchDatabases(adminUrl())).not.toContain(`firebreak_dr_${run.id}`);
  });

  it('shows status and history, and refuses unknown input', async () => {
    expect((await cli('status')).out.join('\n')).toMatch(/No drill is running\. Last: DR-\d+ dry run .* passed, RTO/);
    const h = await cli('history', '5');
    expect(h.code).toBe(0);
    expect(h.out.join('\n')).toMatch(/DR-\d+ dry run .* passed · RTO [\d.]+ (ms|s) ✅ · RPO 1 min/);
    expect(await cli('history', 'x')).toMatchObject({ code: 2, err: ['firebreak dr history [count]: count is a whole number from 1 to 50'] });
    expect(await cli('dry-run', 'nope')).toMatchObject({ code: 1, err: ['There is no backup nope.'] });
    expect(await cli('cancel')).toMatchObject({ code: 0, out: ['No drill is running.'] });
    expect((await cli('execute')).code).toBe(2);
  });

  it('refuses a dry run the change policy does not pre-approve, since the CLI cannot collect approvals', async () => {
    const saved = process.env.FIREBREAK_CONFIG;
    delete process.env.FIREBREAK_CONFIG;
    try {
      const r = await cli('dry-run');
      expect(r.code).toBe(1);
      expect(r.err.join()).toMatch(/need an approval.*\/dr dry-run/);
    } finally {
      process.env.FIREBREAK_CONFIG = saved;
    }
  });
});
