import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';
import { s3Endpoint, testS3Client } from '../support/s3.js';
import { backupTestConfig, makeVerifiedBackup, seedIncompressible, seedSampleData, tableContents } from '../support/backups.js';
import { FakeClock } from '../../src/clock.js';
import { runBackup } from '../../src/backups/pipeline.js';
import { configSchema } from '../../src/config/schema.js';
import { fetchDecryptedArchive, restoreArchive, rowCounts, compareRowCounts, BackupIntegrityError } from '../../src/backups/restore.js';
import { generateIdentity } from '../../src/backups/age.js';
import { listBackups, latestVerified } from '../../src/backups/store.js';
import { backupStore } from '../../src/backups/restore.js';
import { BackupService } from '../../src/backups/service.js';
import { createLogger } from '../../src/log.js';
import { findBackup } from '../../src/backups/store.js';
import { openSync, readSync, writeSync, closeSync } from 'node:fs';

let db: TestDatabase;
let work: string;
const drops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  db = await createTestDatabase('fb_bk');
  work = mkdtempSync(path.join(tmpdir(), 'fb-bk-test-'));
});
afterAll(async () => {
  for (const d of drops) await d().catch(() => {});
  await db.drop();
  rmSync(work, { recursive: true, force: true });
});

async function databaseNamed(name: string): Promise<boolean> {
  const { rows } = await db.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return rows.length > 0;
}

async function sourceDb() {
  const src = await createEmptyDatabase('fb_src');
  drops.push(src.drop);
  return src;
}

describe('backup pipeline', () => {
  it('round trip: backup to S3, verify, restore into a new database gives identical data', async () => {
    const src = await sourceDb();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'shop' });
    const r = fx.record;
    expect(r.status).toBe('verified');
    expect(r.verification).toMatchObject({ checksum: true, archive: true, tables: 3 });
    expect(r.rowCounts).toEqual({ 'public.customers': 500, 'public.orders': 1000, 'billing.invoices': 100 });
    expect(r.objectKey).toMatch(/^firebreak\/shop\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-shop-[0-9a-f]{4}\.dump\.zst\.age$/);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.rawBytes).toBeGreaterThan(r.storedBytes! / 2);
    expect(r.serverVersion).toMatch(/^\d+/);
    expect(r.pgDumpVersion).toMatch(/^\d+\.\d+/);

    // The manifest is in the store and says the same as the row.
    const manifest = JSON.parse((await backupStore(fx.ctx).getSmall(r.manifestKey))!.toString());
    expect(manifest).toMatchObject({ id: r.id, database: 'shop', sha256: r.sha256, storedBytes: r.storedBytes, rawBytes: r.rawBytes, format: 'pg_dump-custom+zstd+age' });
    expect(manifest.encryption.recipient).toBe(fx.recipient);

    const target = await sourceDb();
    const archive = path.join(work, 'rt.dump');
    const { bytes } = await fetchDecryptedArchive(fx.ctx, r, archive);
    expect(bytes).toBe(r.storedBytes);
    await restoreArchive(archive, target.url);
    expect(await tableContents(target.url)).toEqual(await tableContents(src.url));
    expect(compareRowCounts(r.rowCounts!, await rowCounts(target.url))).toEqual([]);
  });

  it('wrong key on restore is a clear error naming the recipient, and nothing is restored', async () => {
    const src = await sourceDb();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'wrongkey', storage: 'local' });
    const other = generateIdentity();
    const config = { ...fx.config, backups: { ...fx.config.backups, encryption: { ...fx.config.backups.encryption, identity: other.identity } } };
    const service = new BackupService({ ...fx.ctx, config, log: createLogger({ level: 'silent' }), shutdownSignal: new AbortController().signal });
    const into = `fb_wrongkey_${Date.now().toString(36)}`;
    const err = await service.restore(fx.record.id, into, { requestedBy: 't' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupIntegrityError);
    expect((err as Error).message).toMatch(/^wrong key: backup /);
    expect((err as Error).message).toContain(fx.recipient);
    expect(await databaseNamed(into)).toBe(false);
  });

  it('restore of a tampered object reports the checksum mismatch and leaves no database behind', async () => {
    const src = await sourceDb();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'tampered', storage: 'local' });
    const store = backupStore(fx.ctx);
    const bytes = (await store.getSmall(fx.record.objectKey))!;
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await store.putSmall(fx.record.objectKey, bytes);
    const service = new BackupService({ ...fx.ctx, log: createLogger({ level: 'silent' }), shutdownSignal: new AbortController().signal });
    const into = `fb_tampered_${Date.now().toString(36)}`;
    const err = await service.restore(fx.record.id, into, { requestedBy: 't' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupIntegrityError);
    expect((err as Error).message).toMatch(new RegExp(`^checksum mismatch for backup ${fx.record.id}: object SHA-256 [0-9a-f]{64}, manifest says ${fx.record.sha256}$`));
    expect(await databaseNamed(into)).toBe(false);
  });

  it('a bot holding only the public key still takes checksum-verified backups', async () => {
    const src = await sourceDb();
    await seedSampleData(src.url, 50);
    const keyed = await backupTestConfig({ databases: { pubonly: src.url }, storage: 'local', withIdentity: false });
    const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, { tier: 'manual', requestedBy: 'test' });
    expect(out.error).toBeUndefined();
    expect(out.record.verification).toEqual({ checksum: true, archive: 'skipped: no identity' });
  });

  it('pg_dump killed mid-stream: no manifest, nothing good, the failure is recorded', async () => {
    const src = await sourceDb();
    await seedIncompressible(src.url, 6);
    const keyed = await backupTestConfig({ databases: { killed: src.url }, storage: 's3' });
    const progress: number[] = [];
    let killed = false;
    const out = await runBackup({ pool: db.pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, {
      tier: 'manual', requestedBy: 'test', progressEveryMs: 10,
      onProgress: (p) => {
        progress.push(p.storedBytes);
        if (!killed && p.storedBytes > 0 && p.pgDumpPid) {
          killed = true;
          process.kill(p.pgDumpPid, 'SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(out.error?.step).toBe('pg_dump');
    expect(out.error?.message).toMatch(/pg_dump exited with signal SIGKILL/);
    expect(out.record.status).toBe('failed');
    expect(out.record.error).toMatch(/^pg_dump: /);
    expect(await latestVerified(db.pool, 'killed')).toBeUndefined();
    const s3 = testS3Client();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: keyed.config.backups.storage.bucket! }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([]);
    const mpu = await s3.send(new ListMultipartUploadsCommand({ Bucket: keyed.config.backups.storage.bucket! }));
    expect(mpu.Uploads ?? []).toEqual([]);
  });

  it('S3 failing mid-upload: the multipart upload is aborted and the failure recorded', async () => {
    const src = await sourceDb();
    await seedIncompressible(src.url, 7);
    // A proxy in front of the S3 server that drops the connection of every part after the first.
    let dropped = 0;
    const upstream = new URL(s3Endpoint());
    const proxy = http.createServer((req, res) => {
      const part = Number(new URL(req.url!, 'http://x').searchParams.get('partNumber') ?? 0);
      if (part >= 2) {
        dropped++;
        req.socket.destroy();
        return;
      }
      const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const keyed = await backupTestConfig({ databases: { dropped: src.url }, storage: 's3' });
      const config = configSchema.parse({
        ...keyed.config,
        backups: { ...keyed.config.backups, storage: { ...keyed.config.backups.storage, endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` } },
      });
      const out = await runBackup({ pool: db.pool, config, clock: new FakeClock() }, config.backups.databases[0]!, { tier: 'manual', requestedBy: 'test' });
      expect(dropped).toBeGreaterThan(0);
      expect(out.error?.step).toBe('upload');
      expect(out.error?.message).toMatch(/upload s3:\/\/[^ ]+\/firebreak\/dropped\/.*\.dump\.zst\.age failed/);
      expect(out.record.status).toBe('failed');
      const s3 = testS3Client();
      const bucket = config.backups.storage.bucket!;
      expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
      expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).toEqual([]);
      expect(await latestVerified(db.pool, 'dropped')).toBeUndefined();
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('backups of one database never overlap', async () => {
    const src = await sourceDb();
    await seedSampleData(src.url, 50);
    const keyed = await backupTestConfig({ databases: { overlap: src.url }, storage: 'local' });
    const ctx = { pool: db.pool, config: keyed.config, clock: new FakeClock() };
    const t = keyed.config.backups.databases[0]!;
    let second: Promise<unknown> | undefined;
    const first = runBackup(ctx, t, {
      tier: 'manual', requestedBy: 'a',
      onStarted: () => {
        second = runBackup(ctx, t, { tier: 'manual', requestedBy: 'b' }).then(() => 'ran', (e: Error) => e.message);
      },
    });
    expect((await first).error).toBeUndefined();
    expect(await second).toMatch(/already running/);
    expect((await listBackups(db.pool, { database: 'overlap' })).map((b) => b.requestedBy)).toEqual(['a']);
  });

  it('verify finds a corrupted object, demotes the backup and says which check failed', async () => {
    const src = await sourceDb();
    const fx = await makeVerifiedBackup({ pool: db.pool, databaseUrl: src.url, name: 'rot', storage: 'local' });
    const service = new BackupService({ ...fx.ctx, log: createLogger({ level: 'silent' }), shutdownSignal: new AbortController().signal });
    expect((await service.verify(fx.record.id, { actor: 't' })).ok).toBe(true);
    // Bit rot in the middle of the stored object; the size stays the same.
    const file = path.join(fx.config.backups.storage.localDir!, fx.record.objectKey);
    const fd = openSync(file, 'r+');
    const at = Math.floor(fx.record.storedBytes! / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0]! ^= 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const r = await service.verify(fx.record.id, { actor: 't' });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/checksum mismatch|authentication failed/);
    const after = (await findBackup(db.pool, fx.record.id))!;
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/^verify: /);
    expect(await latestVerified(db.pool, 'rot')).toBeUndefined();
  });
});
