/**
 * Retention cut short (found by bench/chaos: a kill -9 or a PostgreSQL restart mid-retention
 * left backups listed as verified whose files were already deleted). A backup is recorded as
 * expired before its files go, and files left by an interrupted deletion are cleaned later.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, HOUR } from '../../src/clock.js';
import type { BackupRecord } from '../../src/backups/model.js';
import { applyRetention, cleanupStore, planRetention } from '../../src/backups/retention.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { expiredObjectKeys, findBackup, knownObjectKeys } from '../../src/backups/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { storeVerifiedBackup } from './support.js';

/** A local store whose deletes of one key fail, as if the process died right there. */
class DeleteFailsAt extends LocalObjectStore {
  constructor(dir: string, private failing: string) {
    super(dir);
  }
  override async delete(key: string): Promise<void> {
    if (key === this.failing) throw new Error('process died here');
    return super.delete(key);
  }
}

describe('retention interrupted half way', () => {
  let db: TestDatabase;
  let dir: string;
  const clock = new FakeClock('2026-06-15T12:00:00Z');
  beforeAll(async () => {
    db = await createTestDatabase('fb_ret_cut');
    dir = mkdtempSync(path.join(tmpdir(), 'fb-ret-cut-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function twoBackups(store: LocalObjectStore): Promise<BackupRecord[]> {
    const out: BackupRecord[] = [];
    for (const at of ['2026-06-15T10:00:00Z', '2026-06-15T11:00:00Z']) out.push(await storeVerifiedBackup(db.pool, store, at));
    return out;
  }

  it('a deletion cut off after the manifest leaves the backup expired, never verified without its object, and the next cleanup removes the rest', async () => {
    const plain = new LocalObjectStore(dir);
    const [old, newest] = await twoBackups(plain);
    const plan = planRetention([old!, newest!], { hourly: 1, daily: 0, monthly: 0, floor: 1 });
    expect(plan.expire.map((p) => p.id)).toEqual([old!.id]);

    const res = await applyRetention({ pool: db.pool, clock }, new DeleteFailsAt(dir, old!.objectKey), [old!, newest!], plan, 'test');
    expect(res.errors).toHaveLength(1);
    expect(await plain.head(old!.manifestKey)).toBeUndefined();
    expect((await findBackup(db.pool, old!.id))!.status).toBe('expired');

    const cleanup = await cleanupStore(plain, 'firebreak', await knownObjectKeys(db.pool), clock.now(), 24 * HOUR, { expiredKeys: await expiredObjectKeys(db.pool) });
    expect(cleanup.deletedObjects).toEqual([old!.objectKey]);
    expect(await plain.head(old!.objectKey)).toBeUndefined();
    expect(await plain.head(newest!.objectKey)).toBeDefined();
  });

  it('when the expiry cannot be recorded (database gone), no file is deleted and the backup still restores', async () => {
    const store = new LocalObjectStore(dir);
    const [old, newest] = await twoBackups(store);
    const plan = planRetention([old!, newest!], { hourly: 1, daily: 0, monthly: 0, floor: 1 });
    const down = {
      query: (sql: string, params?: unknown[]) => (/UPDATE backups/.test(sql) ? Promise.reject(new Error('Connection terminated')) : db.pool.query(sql, params)),
    } as unknown as typeof db.pool;

    const res = await applyRetention({ pool: down, clock }, store, [old!, newest!], plan, 'test');
    expect(res.expired).toEqual([]);
    expect((await findBackup(db.pool, old!.id))!.status).toBe('verified');
    expect(await store.head(old!.objectKey)).toBeDefined();
    expect(await store.head(old!.manifestKey)).toBeDefined();
  });
});
