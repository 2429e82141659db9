/**
 * The read side DR uses: fetch, checksum, decrypt and decompress in one pass
 * (fetchDecryptedArchive), and pg_restore reporting each table as its data lands so rows can be
 * counted while the rest restores (restoreArchive's onTableRestored, RestoredRowCounter). Real
 * backups, real moto S3 and PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';
import { makeVerifiedBackup, seedIncompressible, seedSampleData } from '../support/backups.js';
import {
  BackupIntegrityError, RestoredRowCounter, backupStore, fetchDecryptedArchive, restoreArchive, rowCounts,
} from '../../src/backups/restore.js';

let db: TestDatabase;
let work: string;
const drops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  db = await createTestDatabase('fb_rs');
  work = mkdtempSync(path.join(tmpdir(), 'fb-rs-test-'));
});
afterAll(async () => {
  for (const d of drops) await d().catch(() => {});
  await db.drop();
  rmSync(work, { recursive: true, force: true });
});

async function database() {
  const d = await createEmptyDatabase('fb_rs_db');
  drops.push(d.drop);
  return d;
}

describe('fetchDecryptedArchive (one pass)', () => {
  it('writes the same archive as the age and zstd CLIs, says when the last byte arrived, and returns the checked SHA-256', async () => {
    const src = await database();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'onepass' });
    const fetched: number[] = [];
    const one = path.join(work, 'one.dump');
    const out = await fetchDecryptedArchive(fx.ctx, fx.record, one, { onFetched: (b) => fetched.push(b) });
    expect(fetched).toEqual([fx.record.storedBytes]);
    expect(out).toEqual({ bytes: fx.record.storedBytes, sha256: fx.record.sha256 });

    // The reference comes from the real tools, not from our own age code: the stored object
    // through `age -d` into `zstd -d`. The identity goes in a 0600 file, never on argv.
    const identityFile = path.join(work, 'onepass.key');
    writeFileSync(identityFile, fx.identity + '\n', { mode: 0o600 });
    const object = (await backupStore(fx.ctx).getSmall(fx.record.objectKey))!;
    const reference = execFileSync('sh', ['-c', 'age -d -i "$1" | zstd -d -q -c', 'sh', identityFile], { input: object, maxBuffer: 1 << 30 });
    expect(reference.length).toBe(fx.record.rawBytes);
    expect(readFileSync(one).equals(reference)).toBe(true);
  });

  it('a byte flipped in the stored object: reads it all, reports the checksum mismatch, leaves no archive', async () => {
    const src = await database();
    await seedSampleData(src.url, 50);
    // Several MiB of random data: decryption fails long before the end of the object.
    await seedIncompressible(src.url, 4);
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'flipped', seed: false });
    const store = backupStore(fx.ctx);
    const bytes = (await store.getSmall(fx.record.objectKey))!;
    bytes[1024 * 1024] = bytes[1024 * 1024]! ^ 0x01;
    await store.putSmall(fx.record.objectKey, bytes);

    const archive = path.join(work, 'flipped.dump');
    const fetched: number[] = [];
    const err = await fetchDecryptedArchive(fx.ctx, fx.record, archive, { onFetched: (b) => fetched.push(b) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupIntegrityError);
    expect((err as Error).message).toMatch(/^checksum mismatch for backup /);
    expect(fetched).toEqual([fx.record.storedBytes]);
    expect(existsSync(archive)).toBe(false);
  });

  it('a truncated object is a size mismatch; a cancel is not an integrity error; neither leaves an archive', async () => {
    const src = await database();
    await seedIncompressible(src.url, 4);
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'short', seed: false });
    const store = backupStore(fx.ctx);
    const full = (await store.getSmall(fx.record.objectKey))!;

    const archive = path.join(work, 'short.dump');
    const ac = new AbortController();
    ac.abort();
    const aborted = await fetchDecryptedArchive(fx.ctx, fx.record, archive, { signal: ac.signal }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(Error);
    expect(aborted).not.toBeInstanceOf(BackupIntegrityError);
    expect(existsSync(archive)).toBe(false);

    await store.putSmall(fx.record.objectKey, full.subarray(0, full.length - 100));
    const err = await fetchDecryptedArchive(fx.ctx, fx.record, archive).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupIntegrityError);
    expect((err as Error).message).toMatch(/^size mismatch for backup .*: object has \d+ bytes, manifest says \d+$/);
    expect(existsSync(archive)).toBe(false);
  });
});

describe('restoreArchive onTableRestored and RestoredRowCounter', () => {
  it('hears of every table as its data lands and counts it then; the counts equal rowCounts', async () => {
    const src = await database();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'counted' });
    const archive = path.join(work, 'counted.dump');
    await fetchDecryptedArchive(fx.ctx, fx.record, archive);
    const target = await database();
    const counter = new RestoredRowCounter(target.url);
    const heard: string[] = [];
    try {
      await restoreArchive(archive, target.url, { jobs: 2, onTableRestored: (t) => (heard.push(t), counter.tableRestored(t)) });
      expect(heard.sort()).toEqual(['customers', 'invoices', 'orders']);
      const counts = await counter.counts();
      expect(counts).toEqual(fx.record.rowCounts);
      expect(counts).toEqual(await rowCounts(target.url));
      expect(counter.earlyCount).toBe(3);
    } finally {
      await counter.close();
    }
  });

  it("keeps pg_restore's error, not its progress lines, when it fails with --verbose", async () => {
    const src = await database();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'clash' });
    const archive = path.join(work, 'clash.dump');
    await fetchDecryptedArchive(fx.ctx, fx.record, archive);
    const target = await database();
    // A table already there: pg_restore's CREATE TABLE fails.
    await restoreArchive(archive, target.url, { jobs: 2 });
    const err = (await restoreArchive(archive, target.url, { jobs: 2, onTableRestored: () => {} }).catch((e: unknown) => e)) as Error & { stderr: string };
    expect(err.message).toMatch(/^pg_restore failed \(exit 1\): .*already exists/);
    expect(err.stderr).toMatch(/error: could not execute query: ERROR: {2}(relation|schema) ".*" already exists/);
    expect(err.stderr).not.toMatch(/processing item|creating TABLE|launching item/);
  });
});
