import { chmodSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';
import { backupTestConfig, seedIncompressible, seedSampleData } from '../support/backups.js';
import { FakeClock } from '../../src/clock.js';
import { runBackup } from '../../src/backups/pipeline.js';
import { backupStore } from '../../src/backups/restore.js';
import { BackupService } from '../../src/backups/service.js';
import { insertRunningBackup, markVerified } from '../../src/backups/store.js';
import { createLogger } from '../../src/log.js';

let db: TestDatabase;
let src: { name: string; url: string; drop(): Promise<void> };
const which = (bin: string) => execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  db = await createTestDatabase('fb_bkpre');
  src = await createEmptyDatabase('fb_presrc');
  await seedSampleData(src.url, 40);
});
afterAll(async () => {
  await src?.drop();
  await db?.drop();
});

/** A pgBinDir whose pg_dump is `script` (pg_restore is the real one). */
function binDir(script: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fb-pgbin-'));
  writeFileSync(path.join(dir, 'pg_dump'), `#!/bin/sh\n${script.replaceAll('DIR', dir)}\n`);
  chmodSync(path.join(dir, 'pg_dump'), 0o755);
  symlinkSync(which('pg_restore'), path.join(dir, 'pg_restore'));
  return dir;
}

describe('backup pre-flight', () => {
  it('refuses a pg_dump older than the server, naming both versions', async () => {
    const dir = binDir('echo "pg_dump (PostgreSQL) 9.6.24"');
    const keyed = await backupTestConfig({ databases: { old: src.url }, storage: 'local', backups: { pgBinDir: dir } });
    const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, { tier: 'manual', requestedBy: 't' });
    expect(out.error?.step).toBe('preflight');
    expect(out.error?.message).toMatch(/pg_dump 9\.6 is older than the server of old \(PostgreSQL \d+\.\d+\): pg_dump must be at least the server's major version/);
    expect(out.record.status).toBe('failed');
  });

  it('passes the password in the environment, never on the command line', async () => {
    const dir = binDir(`printf '%s\\n' "$@" > DIR/argv; printf '%s' "$PGPASSWORD" > DIR/pw; exec ${which('pg_dump')} "$@"`);
    const u = new URL(src.url);
    u.password = 'hunter2-secret';
    const keyed = await backupTestConfig({ databases: { pw: u.toString() }, storage: 'local', backups: { pgBinDir: dir } });
    const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, { tier: 'manual', requestedBy: 't' });
    expect(out.error).toBeUndefined();
    const argv = readFileSync(path.join(dir, 'argv'), 'utf8');
    expect(argv).toContain('--format=custom');
    expect(argv).not.toContain('hunter2');
    expect(readFileSync(path.join(dir, 'pw'), 'utf8')).toBe('hunter2-secret');
    expect(out.record.error).toBeNull();
  });

  it('a shutdown mid-backup records it as interrupted, never good, and leaves nothing in the store', async () => {
    const big = await createEmptyDatabase('fb_preint');
    try {
      await seedIncompressible(big.url, 4);
      const keyed = await backupTestConfig({ databases: { int: big.url }, storage: 'local' });
      const shutdown = new AbortController();
      const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, {
        tier: 'manual', requestedBy: 't', signal: shutdown.signal, progressEveryMs: 10,
        onProgress: (p) => p.storedBytes > 0 && shutdown.abort(),
      });
      expect(out.error?.step).toBe('interrupted');
      expect(out.record.status).toBe('interrupted');
      const keys: string[] = [];
      for await (const o of backupStore({ pool: db.pool, config: keyed.config }).list('')) keys.push(o.key);
      expect(keys).toEqual([]);
    } finally {
      await big.drop();
    }
  });

  it("refuses to restore over Firebreak's own database, even when the change was approved", async () => {
    const keyed = await backupTestConfig({ databases: { self: db.url }, storage: 'local', config: { databaseUrl: db.url } });
    const ctx = { pool: db.pool, config: keyed.config, clock: new FakeClock(), log: createLogger({ level: 'silent' }), shutdownSignal: new AbortController().signal };
    const at = new Date('2026-01-01T00:00:00Z');
    const id = '20260101T000000Z-self-0001';
    await insertRunningBackup(db.pool, { id, database: 'self', tier: 'manual', objectKey: 'k', manifestKey: 'm', storeLocation: 'x', recipient: keyed.recipient, startedAt: at, requestedBy: 't', format: 'f' });
    await markVerified(db.pool, id, { sha256: 'x', rawBytes: 1, storedBytes: 1, serverVersion: '15', pgDumpVersion: '15', snapshotAt: at, finishedAt: at, verifiedAt: at, verification: {}, rowCounts: {} });
    await expect(new BackupService(ctx).restore(id, db.name, { requestedBy: 't', allowExisting: true })).rejects.toThrow("is Firebreak's own database");
  });
});
