/**
 * Reading backups back: the public contract the DR area (src/dr) and `/backup verify|restore`
 * build on. DR and `/backup restore` fetch, check and decrypt in one pass
 * (fetchDecryptedArchive), so a restore reads the object once, as a manual
 * `aws s3 cp - | age -d | zstd -d` would, and never keeps an encrypted copy on disk.
 */
import { withClient } from '../db/pool.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv } from '../child-env.js';
import pg from 'pg';
import { PassThrough, addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/schema.js';
import type { Queryable } from '../db/pool.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { AgeDecryptStream, AgeError, parseIdentity, type AgeIdentity } from './age.js';
import { BackupIntegrityError, RestoreError, type BackupRecord } from './model.js';
import { clientConfig, collectStderr, countRowsOn, countTableOn, exitOf, libpqArgs, pgBin, userTablesOn, type UserTable } from './pgtools.js';
import { findBackup, latestVerified } from './store.js';

export { BackupIntegrityError, RestoreError, type BackupRecord } from './model.js';

/** What the read side needs from the app: its database and configuration. AppContext fits. */
export interface BackupContext {
  pool: Queryable;
  config: Config;
}

const stores = new WeakMap<object, ObjectStore>();

/** The configured object store, one per configuration object. */
export function backupStore(ctx: BackupContext): ObjectStore {
  let s = stores.get(ctx.config.backups.storage);
  if (!s) {
    s = createObjectStore(ctx.config.backups.storage, ctx.config.dataDir);
    stores.set(ctx.config.backups.storage, s);
  }
  return s;
}

export async function getBackup(ctx: BackupContext, id: string): Promise<BackupRecord | undefined> {
  return findBackup(ctx.pool, id);
}

/** The newest backup that passed verification (the one DR should restore). */
export async function latestVerifiedBackup(ctx: BackupContext, database?: string): Promise<BackupRecord | undefined> {
  return latestVerified(ctx.pool, database);
}

/** The decryption identity: explicit, else FIREBREAK_BACKUP_IDENTITY(_FILE) via config. */
export function resolveIdentity(ctx: BackupContext, identity?: string): AgeIdentity {
  const text = identity ?? ctx.config.backups.encryption.identity;
  if (!text) {
    throw new BackupIntegrityError(
      'no decryption identity: set FIREBREAK_BACKUP_IDENTITY (or FIREBREAK_BACKUP_IDENTITY_FILE) to the AGE-SECRET-KEY-1... matching backups.encryption.recipient',
    );
  }
  try {
    return parseIdentity(text);
  } catch (err) {
    throw new BackupIntegrityError(`the decryption identity is not usable: ${(err as Error).message}`);
  }
}

function integrityError(record: BackupRecord, err: unknown): BackupIntegrityError {
  if (err instanceof BackupIntegrityError) return err;
  if (err instanceof AgeError) {
    const what =
      err.reason === 'no-matching-identity'
        ? `wrong key: backup ${record.id} was encrypted to ${record.recipient}, and the configured identity is not its key (${err.message})`
        : `backup ${record.id} failed decryption: ${err.message}`;
    return new BackupIntegrityError(what, record.id);
  }
  return new BackupIntegrityError(`backup ${record.id}: ${(err as Error).message}`, record.id);
}

/** encrypted stream -> age decrypt -> `zstd -d` -> archive file. */
async function decryptToArchive(source: Readable, identity: AgeIdentity, archiveFile: string, signal?: AbortSignal): Promise<void> {
  const zstd = spawn('zstd', ['-d', '-q', '-f', '-o', archiveFile], { env: childEnv(), stdio: ['pipe', 'ignore', 'pipe'], signal });
  const zstdErr = collectStderr(zstd);
  const exited = exitOf(zstd);
  const spawnFailed = new Promise<never>((_, reject) => zstd.once('error', (e) => reject(new Error(`zstd: ${e.message}`))));
  spawnFailed.catch(() => {});
  const decrypt = new AgeDecryptStream(identity);
  const flow = pipeline(source, decrypt, zstd.stdin, { signal });
  await Promise.race([flow, spawnFailed]).catch(async (err) => {
    zstd.kill('SIGKILL');
    await exited;
    throw err;
  });
  const { code, signal: sig } = await exited;
  if (code !== 0) throw new BackupIntegrityError(`zstd could not decompress the archive (exit ${code ?? sig}): ${zstdErr()}`);
}

/**
 * Fetch, checksum, decrypt and decompress in one pass: the stored object's bytes go from the
 * store through SHA-256 and age decryption into `zstd -d`, which writes the pg_restore archive
 * (`pg_restore -j` needs a file), as they arrive. Nothing is stored or read twice, so this takes
 * about as long as the slowest of download, decryption and decompression, not their sum.
 *
 * `onFetched(bytes)` is called when the store has sent its last byte. A rejection before that
 * is the fetch's (the store, the network, a cancel); after it, a BackupIntegrityError: size or
 * SHA-256 differing from the manifest, failed decryption (every 64 KiB chunk is authenticated,
 * so a tampered or truncated object cannot decrypt), or zstd failing. When decryption fails
 * part-way the rest of the object is still read through the hash, so the report can say the
 * object differs from its manifest. The archive is trustworthy only once this resolves, and
 * is removed whenever it rejects.
 */
export async function fetchDecryptedArchive(
  ctx: BackupContext,
  record: BackupRecord,
  archiveFile: string,
  opts: { signal?: AbortSignal; identity?: string; onFetched?: (bytes: number) => void } = {},
): Promise<{ bytes: number; sha256: string }> {
  const identity = resolveIdentity(ctx, opts.identity);
  const body = await backupStore(ctx).get(record.objectKey, { signal: opts.signal });
  if (opts.signal) addAbortSignal(opts.signal, body);
  const hash = createHash('sha256');
  let bytes = 0;
  // The decryptor's input. If decryption fails, the pipeline destroys it and the loop below
  // keeps hashing; its errors are reported through `decrypted`.
  const encrypted = new PassThrough({ highWaterMark: 1 << 20 });
  encrypted.on('error', () => {});
  const decrypted = decryptToArchive(encrypted, identity, archiveFile, opts.signal).then(
    () => undefined,
    (err: unknown) => err,
  );
  const writable = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        encrypted.off('drain', done);
        encrypted.off('close', done);
        resolve();
      };
      encrypted.on('drain', done);
      encrypted.on('close', done);
    });
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      if (!encrypted.destroyed && !encrypted.write(chunk)) await writable();
    }
  } catch (err) {
    encrypted.destroy();
    await decrypted;
    await fs.rm(archiveFile, { force: true });
    throw err;
  }
  encrypted.end();
  opts.onFetched?.(bytes);
  const failure = await decrypted;
  const sha256 = hash.digest('hex');
  let problem: BackupIntegrityError | undefined;
  if (record.storedBytes !== null && bytes !== record.storedBytes) {
    problem = new BackupIntegrityError(`size mismatch for backup ${record.id}: object has ${bytes} bytes, manifest says ${record.storedBytes}`, record.id);
  } else if (record.sha256 && sha256 !== record.sha256) {
    // Checked before the decryption error: a differing object explains an auth failure best.
    problem = new BackupIntegrityError(`checksum mismatch for backup ${record.id}: object SHA-256 ${sha256}, manifest says ${record.sha256}`, record.id);
  } else if (failure) {
    problem = integrityError(record, failure);
  }
  if (problem) {
    await fs.rm(archiveFile, { force: true });
    throw problem;
  }
  return { bytes, sha256 };
}

/**
 * Restores a pg_dump custom archive into an existing (normally empty) database. Stops at the
 * first error. Throws RestoreError with pg_restore's stderr.
 *
 * `onTableRestored(name)` (with jobs > 1) is called as pg_restore reports each table's data
 * loaded and committed, from its `--verbose` "finished item … TABLE DATA <table>" line, so
 * callers can check a table while the rest is restored. pg_restore names the table without its
 * schema. The informational lines are kept out of the error text.
 */
export async function restoreArchive(
  archiveFile: string,
  targetDatabaseUrl: string,
  opts: { jobs?: number; signal?: AbortSignal; binDir?: string; passwordEnv?: string; clean?: boolean; onTableRestored?: (table: string) => void } = {},
): Promise<void> {
  const { url, env } = libpqArgs({ url: targetDatabaseUrl, passwordEnv: opts.passwordEnv });
  const args = ['--exit-on-error', '--no-owner', '--dbname', url];
  // Restoring over an existing database (an approved change) drops each object first.
  if (opts.clean) args.push('--clean', '--if-exists');
  const parallel = opts.jobs !== undefined && opts.jobs > 1;
  if (parallel) args.push('--jobs', String(opts.jobs));
  const watch = parallel && opts.onTableRestored;
  if (watch) args.push('--verbose');
  args.push(archiveFile);
  const bin = pgBin(opts.binDir ?? process.env.FIREBREAK_PG_BIN_DIR, 'pg_restore');
  const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'], signal: opts.signal });
  const stderr = watch ? watchRestoreLog(child, opts.onTableRestored!) : collectStderr(child);
  const spawnError = new Promise<Error>((r) => child.once('error', r));
  const { code, signal } = await exitOf(child);
  if (code === -1) {
    const e = await spawnError;
    throw new RestoreError(`pg_restore could not start: ${e.message}`, '', null);
  }
  if (code !== 0) {
    const err = stderr();
    throw new RestoreError(`pg_restore failed (exit ${code ?? signal}): ${err.split('\n').slice(-3).join(' ') || 'no output'}`, err, code);
  }
}

/** pg_restore --verbose's informational lines: no level, unlike `error:`, `warning:`, `detail:`, `hint:`. */
const INFO_LINE = /^pg_restore: (?!(?:error|warning|detail|hint): )/;
const TABLE_DATA_DONE = /^pg_restore: finished item \d+ TABLE DATA (.+)$/;

/** Reads pg_restore --verbose stderr line by line: reports finished table data, keeps the rest (bounded) for errors. */
function watchRestoreLog(child: ChildProcess, onTable: (table: string) => void, limit = 16 * 1024): () => string {
  let partial = '';
  let kept = '';
  const line = (l: string) => {
    const done = TABLE_DATA_DONE.exec(l);
    if (done) {
      try {
        onTable(done[1]!);
      } catch {
        // A watcher's failure must not disturb the restore; it only loses the early start.
      }
    } else if (l && !INFO_LINE.test(l)) {
      kept = (kept + l + '\n').slice(-limit);
    }
  };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop()!.slice(-limit);
    for (const l of lines) line(l);
  });
  child.stderr?.on('end', () => line(partial));
  return () => (kept + (partial && !INFO_LINE.test(partial) ? partial : '')).trim();
}

/**
 * Row counts of a database being restored, taken as early as the data allows: `tableRestored`
 * (fed by restoreArchive's onTableRestored) counts that table in the background, one at a time,
 * while pg_restore goes on with the others; `counts()` after the restore waits for those and
 * counts every table not counted yet. Same tables and keys as rowCounts.
 *
 * A table is counted early only when its count cannot change any more: its data is committed
 * and nothing else adds to it (not partitioned, no inheritance children, one table of that name).
 * Early counts run without parallel workers so they take one core from the restore at most, and
 * give up after a short lock wait (pg_restore may hold the table to add its primary key), leaving
 * the table for `counts()`. Any early failure does the same.
 */
export class RestoredRowCounter {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private tables: Promise<UserTable[]> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private counted = new Map<string, number>();
  private closed = false;
  /** Tables whose count was taken while the restore ran. */
  earlyCount = 0;

  constructor(private databaseUrl: string, private opts: { passwordEnv?: string } = {}) {}

  private connect(): Promise<pg.Client> {
    this.connecting ??= (async () => {
      const c = new pg.Client({ ...clientConfig({ url: this.databaseUrl, passwordEnv: this.opts.passwordEnv }), application_name: 'firebreak-rowcounts' });
      c.on('error', () => {});
      await c.connect();
      this.client = c;
      if (this.closed) await c.end();
      return c;
    })();
    return this.connecting;
  }

  tableRestored(name: string): void {
    if (this.closed) return;
    this.queue = this.queue.then(() => this.countEarly(name)).catch(() => {});
  }

  private async countEarly(name: string): Promise<void> {
    if (this.closed) return;
    const c = await this.connect();
    // Listed once, after the first table's data: pre-data (every CREATE TABLE) is done by then.
    this.tables ??= (async () => {
      await c.query("SET max_parallel_workers_per_gather = 0; SET lock_timeout = '200ms'");
      return userTablesOn(c);
    })();
    const all = await this.tables;
    const named = all.filter((t) => t.tablename === name);
    if (named.length !== 1) return;
    const t = named[0]!;
    if (t.relkind !== 'r' || t.haschildren) return;
    const key = `${t.schemaname}.${t.tablename}`;
    if (this.counted.has(key) || this.closed) return;
    this.counted.set(key, await countTableOn(c, t));
    this.earlyCount++;
  }

  /** Every table's count: the early ones, then the rest counted now. */
  async counts(): Promise<Record<string, number>> {
    await this.queue;
    const c = await this.connect();
    await c.query('RESET max_parallel_workers_per_gather; RESET lock_timeout');
    const out: Record<string, number> = {};
    for (const t of await userTablesOn(c)) {
      const key = `${t.schemaname}.${t.tablename}`;
      out[key] = this.counted.get(key) ?? (await countTableOn(c, t));
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => {});
  }
}

/** Exact row counts per user table (`schema.table`), in one consistent snapshot. */
export async function rowCounts(databaseUrl: string, opts: { passwordEnv?: string } = {}): Promise<Record<string, number>> {
  const pw = opts.passwordEnv ? process.env[opts.passwordEnv] : undefined;
  return withClient({ connectionString: databaseUrl, ...(pw ? { password: pw } : {}), application_name: 'firebreak-rowcounts' }, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const out = await countRowsOn(client);
    await client.query('COMMIT');
    return out;
  });
}

/** Row-count differences, `schema.table: expected X, got Y`; empty when identical. */
export function compareRowCounts(expected: Record<string, number>, actual: Record<string, number>): string[] {
  const out: string[] = [];
  for (const t of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    if (expected[t] !== actual[t]) out.push(`${t}: expected ${expected[t] ?? 'absent'}, got ${actual[t] ?? 'absent'}`);
  }
  return out.sort();
}

