import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';
import { backupTestConfig, seedSampleData } from '../support/backups.js';
import { FakeClock } from '../../src/clock.js';
import { generateIdentity } from '../../src/backups/age.js';
import { runBackup, zstdSummary } from '../../src/backups/pipeline.js';
import { zstdTestedBytes } from '../../src/backups/verify.js';
import { backupStore } from '../../src/backups/restore.js';
import { failAbandoned, findBackup, insertRunningBackup, knownObjectKeys, latestVerified, markUploaded } from '../../src/backups/store.js';
import type { BackupRecord } from '../../src/backups/model.js';

let db: TestDatabase;
let src: { url: string; drop(): Promise<void> };

beforeAll(async () => {
  db = await createTestDatabase('fb_bk_land');
  src = await createEmptyDatabase('fb_bk_land_src');
  await seedSampleData(src.url, 300);
});
afterAll(async () => {
  await db.drop();
  await src.drop();
});

describe('a backup lands (uploaded), then is verified', () => {
  it('is recorded uploaded as soon as the store holds it; only once verified does anything count it as good', async () => {
    const keyed = await backupTestConfig({ databases: { shop: src.url }, storage: 'local' });
    let atLanding: { status: string; latest: BackupRecord | undefined; known: boolean; uploadedMs: number } | undefined;
    let landing: Promise<void> | undefined;
    const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, {
      tier: 'manual', requestedBy: 'test', progressEveryMs: 3_600_000,
      onProgress: (p) => {
        if (p.uploadedMs === undefined || landing) return;
        landing = (async () => {
          const r = (await findBackup(db.pool, p.id))!;
          atLanding = { status: r.status, latest: await latestVerified(db.pool, 'shop'), known: (await knownObjectKeys(db.pool)).has(r.objectKey), uploadedMs: p.uploadedMs! };
        })();
      },
    });
    await landing;
    expect(out.error).toBeUndefined();
    expect(atLanding).toMatchObject({ status: 'uploaded', latest: undefined, known: true });
    expect(out.record.status).toBe('verified');
    expect(out.record.rowCounts).toMatchObject({ 'public.customers': 300, 'public.orders': 600 });
    // zstd's count of the archive, which the re-read (zstd -t) confirmed.
    expect(out.record.rawBytes).toBeGreaterThan(out.record.storedBytes!);
    expect(out.record.verification).toMatchObject({ checksum: true, archive: true, tables: 3 });
    expect((await latestVerified(db.pool, 'shop'))?.id).toBe(out.record.id);
  });

  it('a backup that lands but fails verification is recorded failed, its object removed, never good', async () => {
    const keyed = await backupTestConfig({ databases: { shop: src.url }, storage: 'local' });
    // The identity does not match the recipient: the upload succeeds, the re-read cannot decrypt it.
    keyed.config.backups.encryption.identity = generateIdentity().identity;
    const phases: string[] = [];
    const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, {
      tier: 'manual', requestedBy: 'test', progressEveryMs: 3_600_000,
      onProgress: (p) => void phases.push(p.phase),
    });
    expect(phases).toContain('verifying');
    expect(out.error?.step).toBe('verify');
    expect(out.error?.message).toMatch(/wrong key/);
    expect(out.record.status).toBe('failed');
    expect(out.record.error).toMatch(/^verify: .*wrong key/);
    const store = backupStore({ pool: db.pool, config: keyed.config });
    expect(await store.head(out.record.objectKey)).toBeUndefined();
    expect(await store.head(out.record.manifestKey)).toBeUndefined();
    expect((await knownObjectKeys(db.pool)).has(out.record.objectKey)).toBe(false);
  });

  it('a backup left uploaded by a process that died is closed as failed by the next one', async () => {
    const at = new Date('2026-03-01T00:00:00Z');
    await insertRunningBackup(db.pool, {
      id: 'dead-uploaded', database: 'orphan', tier: 'manual', objectKey: 'k.age', manifestKey: 'k.json', storeLocation: 'x', recipient: 'age1x',
      startedAt: at, requestedBy: 'test', format: 'pg_dump-custom+zstd+age',
    });
    await markUploaded(db.pool, 'dead-uploaded', { sha256: 'ab', rawBytes: 10, storedBytes: 5, serverVersion: '15', pgDumpVersion: '15', snapshotAt: at });
    await failAbandoned(db.pool, 'orphan', at);
    expect(await findBackup(db.pool, 'dead-uploaded')).toMatchObject({ status: 'failed', error: 'abandoned: the process running it stopped before verification finished' });
  });
});

describe("zstd's counts", () => {
  it('reads the exact sizes from zstd -vv when compressing and zstd -t -v when testing', () => {
    const input = Buffer.alloc(123_457, 'firebreak ');
    const c = spawnSync('zstd', ['-vv', '--no-progress', '-3', '-c'], { input });
    expect(zstdSummary(String(c.stderr))).toEqual({ in: 123_457, out: c.stdout.length });
    const t = spawnSync('zstd', ['-t', '-v', '--no-progress'], { input: c.stdout });
    expect(t.status).toBe(0);
    expect(zstdTestedBytes(String(t.stderr))).toBe(123_457);
    expect(zstdSummary('zstd: something else')).toBeUndefined();
  });
});
