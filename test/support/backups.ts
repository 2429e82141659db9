/**
 * Real backups for tests (backups and DR): a config pointing at the loopback S3 server or a
 * temp directory, a fresh age key pair, sample data, and `makeVerifiedBackup` which runs the
 * production pipeline (pg_dump → zstd → age → store) and returns the verified record.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { configSchema, type Config } from '../../src/config/schema.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { generateIdentity } from '../../src/backups/age.js';
import { runBackup, type BackupRunContext } from '../../src/backups/pipeline.js';
import type { BackupRecord } from '../../src/backups/model.js';
import type { BackupTier } from '../../src/backups/config.js';
import { s3Endpoint, TEST_S3_CREDENTIALS, createTestBucket } from './s3.js';

/** The S3 SDK reads credentials from the environment only, as in production. */
export function useTestS3Credentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= TEST_S3_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= TEST_S3_CREDENTIALS.secretAccessKey;
}

export interface BackupConfigOptions {
  /** Databases to back up: name -> URL. */
  databases: Record<string, string>;
  /** 's3' (default: a new bucket on the loopback moto server) or 'local' (a temp dir). */
  storage?: 's3' | 'local';
  bucket?: string;
  /** Omit the identity to test a bot that holds only the public key. */
  withIdentity?: boolean;
  /** Extra `backups` keys (retention, schedules, ...). */
  backups?: Record<string, unknown>;
  /** Extra top-level config keys. */
  config?: Record<string, unknown>;
}

export interface BackupTestConfig {
  config: Config;
  identity: string;
  recipient: string;
}

export async function backupTestConfig(o: BackupConfigOptions): Promise<BackupTestConfig> {
  const keys = generateIdentity();
  const storage =
    (o.storage ?? 's3') === 's3'
      ? { bucket: o.bucket ?? (await createTestBucket('fb-backups')), endpoint: s3Endpoint(), forcePathStyle: true, partSizeMiB: 5 }
      : { localDir: mkdtempSync(path.join(tmpdir(), 'fb-backups-')) };
  if (storage.bucket) useTestS3Credentials();
  const config = configSchema.parse({
    logLevel: 'silent',
    dataDir: mkdtempSync(path.join(tmpdir(), 'fb-data-')),
    ...o.config,
    backups: {
      databases: Object.entries(o.databases).map(([name, url]) => ({ name, url })),
      storage,
      encryption: { recipient: keys.recipient, ...(o.withIdentity === false ? {} : { identity: keys.identity }) },
      ...o.backups,
    },
  });
  return { config, ...keys };
}

/** Two tables with known contents (one with a bytea column), so restores can be compared. */
export async function seedSampleData(url: string, rows = 500): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text NOT NULL, created timestamptz NOT NULL);
      CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, customer int REFERENCES customers(id), note text, blob bytea);
      CREATE SCHEMA IF NOT EXISTS billing;
      CREATE TABLE IF NOT EXISTS billing.invoices (id bigserial PRIMARY KEY, amount numeric(12,2) NOT NULL);`);
    await c.query(`INSERT INTO customers SELECT i, 'customer ' || i, '2026-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, $1) i ON CONFLICT DO NOTHING`, [rows]);
    await c.query(
      `INSERT INTO orders SELECT i, 1 + i % $1, repeat(md5(i::text), 3), decode(md5(i::text) || md5((i * 7)::text), 'hex') FROM generate_series(1, $1 * 2) i ON CONFLICT DO NOTHING`,
      [rows],
    );
    await c.query(`INSERT INTO billing.invoices (amount) SELECT (i * 1.37)::numeric(12,2) FROM generate_series(1, $1) i`, [Math.ceil(rows / 5)]);
  } finally {
    await c.end();
  }
}

/** Adds roughly `mib` MiB of incompressible rows (random bytes survive zstd), for multipart and kill tests. */
export async function seedIncompressible(url: string, mib: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS noise (id serial PRIMARY KEY, data bytea NOT NULL)');
    // 64 md5s decoded = 1 KiB of random bytes per row; 1024 rows per MiB.
    await c.query(
      `INSERT INTO noise (data) SELECT (SELECT decode(string_agg(md5(random()::text || i || j), ''), 'hex') FROM generate_series(1, 64) j) FROM generate_series(1, $1) i`,
      [mib * 1024],
    );
    await c.query('ALTER TABLE noise ALTER COLUMN data SET STORAGE EXTERNAL');
  } finally {
    await c.end();
  }
}

/** Every user table's full contents, ordered, for "identical data" assertions. */
export async function tableContents(url: string): Promise<Record<string, string[]>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1`,
    );
    const out: Record<string, string[]> = {};
    for (const { t } of rows) out[t] = (await c.query<{ r: string }>(`SELECT x::text AS r FROM ${t} x ORDER BY 1`)).rows.map((r) => r.r);
    return out;
  } finally {
    await c.end();
  }
}

export interface BackupFixture extends BackupTestConfig {
  ctx: BackupRunContext;
  record: BackupRecord;
}

/**
 * Takes a real, verified backup of `databaseUrl` (seeding sample data unless `seed: false`)
 * and returns its record with the config (including the identity) that can read it back.
 * `pool` is Firebreak's own (migrated) database, where the backup is recorded.
 */
export async function makeVerifiedBackup(o: {
  pool: pg.Pool;
  databaseUrl: string;
  name?: string;
  storage?: 's3' | 'local';
  /** Reuse a config (and so its store and keys) across several backups. */
  using?: BackupTestConfig;
  clock?: Clock;
  tier?: BackupTier;
  seed?: boolean;
}): Promise<BackupFixture> {
  const name = o.name ?? 'main';
  const keyed = o.using ?? (await backupTestConfig({ databases: { [name]: o.databaseUrl }, storage: o.storage }));
  if (o.seed !== false) await seedSampleData(o.databaseUrl);
  const ctx: BackupRunContext = { pool: o.pool, config: keyed.config, clock: o.clock ?? systemClock };
  const target = keyed.config.backups.databases.find((d) => d.name === name) ?? { name, url: o.databaseUrl };
  const { record, error } = await runBackup(ctx, target, { tier: o.tier ?? 'manual', requestedBy: 'test' });
  if (error) throw new Error(`makeVerifiedBackup: the backup failed at ${error.step}: ${error.message}`);
  return { ...keyed, ctx, record };
}
