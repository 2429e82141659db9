import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, HOUR } from '../../src/clock.js';
import type { BackupRecord } from '../../src/backups/model.js';
import { applyRetention, cleanupStore, planRetention, type RetentionPolicy } from '../../src/backups/retention.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { insertRunningBackup, markVerified, listBackups, findBackup } from '../../src/backups/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { backupTestConfig } from '../support/backups.js';
import { backupRecord, storeVerifiedBackup } from './support.js';
import { testS3Client } from '../support/s3.js';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BackupService, tierForSlot } from '../../src/backups/service.js';
import { backupStore } from '../../src/backups/restore.js';
import { createLogger } from '../../src/log.js';

const DAY = 24 * HOUR;
const policy = (p: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ hourly: 24, daily: 30, monthly: 12, floor: 3, ...p });


/** Hourly backups for `days` days ending at `end`. */
function hourly(end: Date, days: number): BackupRecord[] {
  const out: BackupRecord[] = [];
  for (let t = end.getTime() - days * DAY + HOUR; t <= end.getTime(); t += HOUR) out.push(backupRecord(new Date(t)));
  return out;
}

describe('GFS retention plan', () => {
  const clock = new FakeClock('2026-06-15T12:00:00Z');

  it.each([
    // [description, days of hourly backups, policy, expected kept]
    ['a day of hourly backups: all 24 kept by hourly', 1, policy(), 24],
    ['three days: 24 hourly + 2 older days', 3, policy(), 26],
    ['400 days: 24 hourly + 28 more daily (2 overlap) + 10 more monthly (2 overlap)', 400, policy(), 24 + 28 + 10],
    ['hourly 0, daily 7, monthly 0', 30, policy({ hourly: 0, daily: 7, monthly: 0 }), 7],
    ['everything 0 keeps the floor (3 newest)', 10, policy({ hourly: 0, daily: 0, monthly: 0, floor: 3 }), 3],
  ])('%s', (_d, days, p, kept) => {
    const plan = planRetention(hourly(clock.now(), days), p);
    expect(plan.keep.length).toBe(kept);
    expect(plan.keep.length + plan.expire.length).toBe(days * 24);
  });

  it('never expires the newest verified backup, even with a policy keeping nothing', () => {
    const b = [backupRecord('2026-06-01T00:00:00Z'), backupRecord('2026-06-10T00:00:00Z')];
    const plan = planRetention(b, policy({ hourly: 0, daily: 0, monthly: 0, floor: 1 }));
    expect(plan.keep.map((k) => k.id)).toEqual([b[1]!.id]);
    expect(plan.keep[0]!.reasons).toContain('newest');
  });

  it('only verified backups count and are ever planned for deletion', () => {
    const good = backupRecord('2026-06-01T00:00:00Z');
    const failed = backupRecord('2026-06-15T00:00:00Z', { status: 'failed' });
    const running = backupRecord('2026-06-15T11:00:00Z', { status: 'running' });
    const plan = planRetention([good, failed, running], policy({ hourly: 0, daily: 0, monthly: 0, floor: 1 }));
    expect(plan.backups.map((p) => p.id)).toEqual([good.id]);
    expect(plan.expire).toEqual([]);
  });

  it('orders by recorded snapshot time, not by key name', () => {
    // The id sorts newest but the snapshot is oldest (a clock-skewed host named it).
    const misleading = backupRecord('2026-06-15T11:00:00Z', { snapshotAt: new Date('2026-01-01T00:00:00Z') });
    const newest = backupRecord('2026-06-10T00:00:00Z');
    const plan = planRetention([misleading, newest], policy({ hourly: 0, daily: 0, monthly: 0, floor: 1 }));
    expect(plan.keep.map((k) => k.id)).toEqual([newest.id]);
    expect(plan.expire.map((k) => k.id)).toEqual([misleading.id]);
  });

  it('a long outage does not age out the last good backups (periods without backups use no slot)', () => {
    const old = hourly(new Date('2026-01-10T00:00:00Z'), 5);
    clock.set('2026-06-15T00:00:00Z');
    const plan = planRetention(old, policy({ hourly: 2, daily: 3, monthly: 0, floor: 1 }));
    expect(plan.keep.map((k) => k.at.toISOString())).toEqual([
      '2026-01-10T00:00:00.000Z', '2026-01-09T23:00:00.000Z', '2026-01-08T23:00:00.000Z',
    ]);
  });

  it('plans per database', () => {
    const a = backupRecord('2026-06-01T00:00:00Z');
    const b = backupRecord('2026-06-01T00:00:00Z', { database: 'other' });
    const plan = planRetention([a, b], policy({ hourly: 0, daily: 0, monthly: 0, floor: 1 }));
    expect(plan.keep.map((k) => k.database).sort()).toEqual(['main', 'other']);
  });
});

it.each([
  ['daily', '2026-03-01T02:35:00Z', 'monthly'],
  ['daily', '2026-03-02T02:35:00Z', 'daily'],
  ['hourly', '2026-03-01T01:05:00Z', 'hourly'],
  ['monthly', '2026-03-15T00:00:00Z', 'monthly'],
] as const)('a %s schedule slot at %s is recorded as %s', (tier, slot, expected) => {
  expect(tierForSlot(tier, new Date(slot))).toBe(expected);
});

describe('applying retention and cleaning the store', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('fb_ret');
    dir = mkdtempSync(path.join(tmpdir(), 'fb-ret-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('marks expired, then deletes manifest and object; cleanup removes stale orphans and partial uploads only', async () => {
    const clock = new FakeClock('2026-06-15T12:00:00Z');
    const store = new LocalObjectStore(dir);
    const records: BackupRecord[] = [];
    for (const at of ['2026-06-15T10:00:00Z', '2026-06-15T11:00:00Z', '2026-06-15T12:00:00Z']) records.push(await storeVerifiedBackup(db.pool, store, at));
    const plan = planRetention(records, policy({ hourly: 2, daily: 0, monthly: 0, floor: 1 }));
    expect(plan.expire.map((p) => p.id)).toEqual([records[0]!.id]);
    const res = await applyRetention({ pool: db.pool, clock }, store, records, plan, 'test');
    expect(res.expired).toEqual([records[0]!.id]);
    expect(await store.head(records[0]!.objectKey)).toBeUndefined();
    expect(await store.head(records[0]!.manifestKey)).toBeUndefined();
    expect(await store.head(records[1]!.objectKey)).toBeDefined();
    expect((await listBackups(db.pool, { status: ['expired'] })).map((b) => b.id)).toEqual([records[0]!.id]);

    // Orphans: an old manifest-less object, a fresh one (maybe still uploading), a stale partial upload.
    const oldOrphan = 'firebreak/main/2026/06/13/20260613T000000Z-main-dead.dump.zst.age';
    const freshOrphan = 'firebreak/main/2026/06/15/20260615T115900Z-main-busy.dump.zst.age';
    await store.putSmall(oldOrphan, 'x');
    await store.putSmall(freshOrphan, 'x');
    const partial = path.join(dir, 'firebreak/main/2026/06/13/20260613T000000Z-main-half.dump.zst.age.partial-abc123');
    await fs.writeFile(partial, 'half');
    const twoDaysAgo = new Date(clock.now().getTime() - 2 * DAY);
    utimesSync(path.join(dir, oldOrphan), twoDaysAgo, twoDaysAgo);
    utimesSync(partial, twoDaysAgo, twoDaysAgo);
    utimesSync(path.join(dir, freshOrphan), clock.now(), clock.now());
    const protectedKeys = new Set(records.slice(1).flatMap((r) => [r.objectKey, r.manifestKey]));

    const dry = await cleanupStore(store, 'firebreak', protectedKeys, clock.now(), DAY, { dryRun: true });
    expect(dry).toEqual({ abortedUploads: ['firebreak/main/2026/06/13/20260613T000000Z-main-half.dump.zst.age'], deletedObjects: [oldOrphan] });
    expect(await store.head(oldOrphan)).toBeDefined();

    const real = await cleanupStore(store, 'firebreak', protectedKeys, clock.now(), DAY);
    expect(real).toEqual(dry);
    expect(await store.head(oldOrphan)).toBeUndefined();
    expect(await store.head(freshOrphan)).toBeDefined();
    await expect(fs.access(partial)).rejects.toThrow();
    for (const r of records.slice(1)) expect(await store.head(r.objectKey)).toBeDefined();
  });
});

describe('retention through the service, on S3', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('fb_ret_s3');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('expires by plan, never counts a verified backup whose manifest is gone, and aborts stale multipart uploads', async () => {
    const keyed = await backupTestConfig({ databases: { main: 'postgres://unused/main' }, storage: 's3', backups: { retention: { hourly: 1, daily: 0, monthly: 0, floor: 1 } } });
    const clock = new FakeClock('2026-06-15T12:00:00Z');
    const ctx = { pool: db.pool, config: keyed.config, clock, log: createLogger({ level: 'silent' }), shutdownSignal: new AbortController().signal };
    const store = backupStore(ctx);
    const made: BackupRecord[] = [];
    for (const at of ['2026-06-15T09:00:00Z', '2026-06-15T10:00:00Z', '2026-06-15T11:00:00Z', '2026-06-15T12:00:00Z']) {
      const r = backupRecord(at);
      await insertRunningBackup(db.pool, r);
      await markVerified(db.pool, r.id, r);
      await store.upload(r.objectKey, Readable.from([Buffer.from('object')]));
      made.push(r);
    }
    // The newest has a manifest; so do the two oldest; the 10:00 one lost its manifest.
    for (const r of [made[0]!, made[2]!, made[3]!]) await store.putSmall(r.manifestKey, '{}');
    const bucket = keyed.config.backups.storage.bucket!;
    const s3 = testS3Client();
    await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'firebreak/main/2026/06/13/x.dump.zst.age' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'firebreak/main/2026/06/13/orphan.dump.zst.age', Body: 'x' }));
    // Store timestamps are real time: look from two days ahead so both count as stale.
    clock.set(Date.now() + 2 * DAY);
    const service = new BackupService(ctx);

    const dry = await service.expire({ dryRun: true, actor: 'test' });
    expect(dry.skipped).toEqual([made[1]!.id]);
    expect(dry.plan.keep.map((k) => k.id)).toEqual([made[3]!.id]);
    expect(dry.plan.expire.map((k) => k.id).sort()).toEqual([made[0]!.id, made[2]!.id]);
    expect(dry.cleanup).toEqual({ abortedUploads: ['firebreak/main/2026/06/13/x.dump.zst.age'], deletedObjects: ['firebreak/main/2026/06/13/orphan.dump.zst.age'] });
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toHaveLength(1);

    const real = await service.expire({ dryRun: false, actor: 'test' });
    expect(real.expired.sort()).toEqual([made[0]!.id, made[2]!.id]);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    const remaining: string[] = [];
    for await (const o of store.list('firebreak/')) remaining.push(o.key);
    expect(remaining.sort()).toEqual([made[1]!.objectKey, made[3]!.manifestKey, made[3]!.objectKey].sort());
    expect((await findBackup(db.pool, made[1]!.id))!.status).toBe('verified');
  });
});
