/**
 * Found by bench/chaos: PostgreSQL restarting right after a backup was recorded as verified made
 * the pipeline's next query fail, and its failure path deleted the object of a backup the
 * database already listed as good. Once the manifest is written and the row marked verified,
 * the object stays and the row stays good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { FakeClock } from '../../src/clock.js';
import { runBackup } from '../../src/backups/pipeline.js';
import { backupStore } from '../../src/backups/restore.js';
import { findBackup } from '../../src/backups/store.js';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';
import { backupTestConfig, seedSampleData } from '../support/backups.js';

describe('a backup whose database connection drops right after it was recorded as verified', () => {
  let db: TestDatabase;
  let src: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    db = await createTestDatabase('fb_bk_answer');
    src = await createEmptyDatabase('fb_bk_answer_src');
    await seedSampleData(src.url, 50);
  });
  afterAll(async () => {
    await db.drop();
    await src.drop();
  });

  it('keeps its object and stays verified', async () => {
    const keyed = await backupTestConfig({ databases: { shop: src.url } });
    // Every query after the UPDATE that marks the backup verified fails, as during a restart.
    let verifiedSeen = false;
    const pool = new Proxy(db.pool, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (sql: string, params?: unknown[]) => {
          if (verifiedSeen) return Promise.reject(new Error('Connection terminated unexpectedly'));
          if (/SET status='verified'/.test(sql)) verifiedSeen = true;
          return target.query(sql, params);
        };
      },
    }) as pg.Pool;

    const run = runBackup({ pool, config: keyed.config, clock: new FakeClock() }, keyed.config.backups.databases[0]!, { tier: 'manual', requestedBy: 'test' });
    await expect(run).rejects.toThrow(/Connection terminated/);
    expect(verifiedSeen).toBe(true);

    const { rows } = await db.pool.query<{ id: string }>("SELECT id FROM backups WHERE database = 'shop'");
    const record = (await findBackup(db.pool, rows[0]!.id))!;
    expect(record.status).toBe('verified');
    const store = backupStore({ pool: db.pool, config: keyed.config });
    expect((await store.head(record.objectKey))?.size).toBe(record.storedBytes);
    expect(await store.head(record.manifestKey)).toBeDefined();
  });
});
