/**
 * Real backups for DR tests: a source database with data, pg_dump of it, zstd, age encryption
 * (src/backups/age.ts), upload to the configured object store (moto S3 in tests) and a
 * `verified` row written with the backups area's own store functions. Nothing is faked: the
 * drill fetches, verifies, decrypts and restores exactly what a backup would have left.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import type { Config } from '../../src/config/schema.js';
import type { Queryable } from '../../src/db/pool.js';
import { AgeEncryptStream, generateIdentity, parseRecipient } from '../../src/backups/age.js';
import { BACKUP_FORMAT, newBackupId, objectKeys, type BackupRecord } from '../../src/backups/model.js';
import { backupStore, rowCounts } from '../../src/backups/restore.js';
import { findBackup, insertRunningBackup, markVerified } from '../../src/backups/store.js';
import { createEmptyDatabase } from '../support/db.js';
import { runToExit } from '../support/exec.js';
import { useTestS3Credentials } from '../support/backups.js';
import { createTestBucket, s3Endpoint } from '../support/s3.js';

// A type, not an interface: startTestApp takes it as a Record<string, unknown>.
export type DrTestConfig = {
  backups: {
    storage: { bucket: string; endpoint: string; forcePathStyle: true };
    encryption: { recipient: string; identity: string };
  };
  dr: Record<string, unknown>;
};

/**
 * The config of a DR test app: backups in a new bucket on the loopback S3 server with a fresh age
 * key pair (the identity too: a drill decrypts what it restores), and drills that fit a test
 * machine's disk and run only when a test starts them; `dr` adds to or overrides that.
 */
export async function drTestConfig(bucketPrefix: string, dr: Record<string, unknown> = {}): Promise<DrTestConfig> {
  useTestS3Credentials();
  const key = generateIdentity();
  return {
    backups: {
      storage: { bucket: await createTestBucket(bucketPrefix), endpoint: s3Endpoint(), forcePathStyle: true },
      encryption: { recipient: key.recipient, identity: key.identity },
    },
    dr: { minFreeMiB: 1, schedule: { enabled: false }, ...dr },
  };
}

/** A small source database and a verified backup of it: enough for a drill that has to pass, quickly. */
export async function makeSmallBackedUpSource(ctx: BackupContext): Promise<{ source: SourceDatabase; backup: BackupRecord }> {
  const source = await makeSourceDatabase({ customers: 10, orders: 20 });
  return { source, backup: await makeVerifiedBackup(ctx, source) };
}

export interface SourceDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A database with a few tables and enough rows for counts to mean something. */
export async function makeSourceDatabase(rows = { customers: 300, orders: 1500 }): Promise<SourceDatabase> {
  const db = await createEmptyDatabase('fb_drsrc');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
                   CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric NOT NULL, note text);
                   CREATE INDEX orders_by_customer ON orders (customer_id);
                   CREATE SCHEMA billing;
                   CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int NOT NULL);`);
    await c.query(`INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, $1) g`, [rows.customers]);
    await c.query(`INSERT INTO orders SELECT g, 1 + g % $2, (g % 97) * 1.5, md5(g::text) FROM generate_series(1, $1) g`, [rows.orders, rows.customers]);
    await c.query(`INSERT INTO billing.invoices (amount) SELECT g FROM generate_series(1, 42) g`);
  } finally {
    await c.end();
  }
  return db;
}

export interface BackupContext {
  pool: Queryable;
  config: Config;
}

/**
 * pg_dump -Fc of `source` → zstd → age → object store, recorded as a verified backup.
 * `snapshotAt` defaults to the real time the dump started.
 */
export async function makeVerifiedBackup(ctx: BackupContext, source: SourceDatabase, opts: { snapshotAt?: Date; database?: string } = {}): Promise<BackupRecord> {
  const recipient = ctx.config.backups.encryption.recipient;
  if (!recipient) throw new Error('test config needs backups.encryption.recipient');
  const database = opts.database ?? source.name;
  const started = new Date();
  const snapshotAt = opts.snapshotAt ?? started;
  const id = newBackupId(database, started, randomBytes(2).toString('hex'));
  const keys = objectKeys(ctx.config.backups.storage.prefix, database, id, started);
  const store = backupStore(ctx);
  await insertRunningBackup(ctx.pool, {
    id, database, tier: 'manual', objectKey: keys.objectKey, manifestKey: keys.manifestKey, storeLocation: store.location,
    recipient, startedAt: started, requestedBy: 'test', format: BACKUP_FORMAT,
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fb-drfix-'));
  try {
    const counts = await rowCounts(source.url);
    const raw = path.join(dir, 'raw.dump');
    await runToExit('pg_dump', ['-Fc', '-Z0', '--dbname', source.url, '-f', raw]);
    const enc = path.join(dir, 'stored.age');
    const zstd = spawn('zstd', ['-3', '-q', '-c', raw], { stdio: ['ignore', 'pipe', 'inherit'] });
    const hash = createHash('sha256');
    let storedBytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        storedBytes += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(zstd.stdout, new AgeEncryptStream(parseRecipient(recipient)), tap, createWriteStream(enc));
    await store.upload(keys.objectKey, createReadStream(enc));
    const finished = new Date();
    await markVerified(ctx.pool, id, {
      sha256: hash.digest('hex'), rawBytes: (await stat(raw)).size, storedBytes, serverVersion: '15', pgDumpVersion: '15',
      snapshotAt, finishedAt: finished, verifiedAt: finished, verification: { checksum: true }, rowCounts: counts,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return (await findBackup(ctx.pool, id))!;
}

/** A database whose restore takes ~10 s: a CHECK constraint sleeps per row, but only inside a firebreak_dr_ scratch database. */
export async function makeSlowSourceDatabase(): Promise<SourceDatabase> {
  const db = await makeSourceDatabase({ customers: 10, orders: 10 });
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`CREATE FUNCTION public.slow_ok(i int) RETURNS boolean LANGUAGE sql AS
                     $$ SELECT pg_catalog.pg_sleep(CASE WHEN pg_catalog.current_database() LIKE 'firebreak_dr_%' THEN 0.025 ELSE 0 END) IS NOT NULL $$;
                   CREATE TABLE slow_rows (id int PRIMARY KEY CHECK (public.slow_ok(id)));
                   INSERT INTO slow_rows SELECT generate_series(1, 400);`);
  } finally {
    await c.end();
  }
  return db;
}

/** Flips one byte in the middle of the stored object, keeping its size: only the checksum can tell. */
export async function corruptStoredObject(ctx: BackupContext, backup: BackupRecord): Promise<void> {
  const store = backupStore(ctx);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fb-drbad-'));
  try {
    const file = path.join(dir, 'obj');
    await pipeline(await store.get(backup.objectKey), createWriteStream(file));
    const bytes = await readFile(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    await store.putSmall(backup.objectKey, bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Databases on the test server whose names start with firebreak_dr_. */
export async function scratchDatabases(adminUrl: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'firebreak\\_dr\\_%' ORDER BY 1");
    return rows.map((r) => r.datname);
  } finally {
    await c.end();
  }
}

/**
 * Test files share one PostgreSQL server and each has its own dr_runs sequence: starting it at
 * a random point keeps their firebreak_dr_<id> scratch names apart.
 */
export async function spreadRunIds(pool: Queryable): Promise<void> {
  const start = 1_000 + Math.floor(Math.random() * 1_000_000_000);
  await pool.query(`ALTER SEQUENCE dr_runs_id_seq RESTART WITH ${start}`);
}
