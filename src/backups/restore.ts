/**
 * Reading backups back: the public contract the DR area (src/dr) and `/backup verify|restore`
 * build on. Each step is separate (fetch, verify+decrypt, restore, count) so DR can time and
 * report each one.
 */
import { withClient } from '../db/pool.js';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { childEnv } from '../child-env.js';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/schema.js';
import type { Queryable } from '../db/pool.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { AgeDecryptStream, AgeError, parseIdentity, type AgeIdentity } from './age.js';
import { BackupIntegrityError, RestoreError, type BackupRecord } from './model.js';
import { collectStderr, countRowsOn, exitOf, libpqArgs, pgBin } from './pgtools.js';
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

/** Downloads the encrypted object to `destFile` (bounded memory). */
export async function fetchBackupObject(
  ctx: BackupContext,
  record: BackupRecord,
  destFile: string,
  opts: { signal?: AbortSignal } = {},
): Promise<{ bytes: number }> {
  const body = await backupStore(ctx).get(record.objectKey, opts);
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(body, count, createWriteStream(destFile), { signal: opts.signal });
  return { bytes };
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

/** SHA-256 and byte count of what passes through, for checks after the stream ends. */
export function hashingPassThrough(): { stream: Transform; digest(): { sha256: string; bytes: number } } {
  const h = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  let done: { sha256: string; bytes: number } | undefined;
  return { stream, digest: () => (done ??= { sha256: h.digest('hex'), bytes }) };
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

/**
 * Checks the downloaded object against the recorded SHA-256 and size, decrypts it (every
 * chunk is authenticated) and decompresses it to `archiveFile`, a pg_dump custom-format
 * archive ready for pg_restore. Throws BackupIntegrityError and removes `archiveFile` on any
 * mismatch.
 */
export async function verifyAndDecrypt(
  ctx: BackupContext,
  record: BackupRecord,
  srcFile: string,
  archiveFile: string,
  opts: { signal?: AbortSignal; identity?: string } = {},
): Promise<void> {
  const identity = resolveIdentity(ctx, opts.identity);
  const hashing = hashingPassThrough();
  try {
    await decryptToArchive(createReadStream(srcFile, { highWaterMark: 1 << 20 }), hashing.stream, identity, archiveFile, opts.signal);
  } catch (err) {
    await fs.rm(archiveFile, { force: true });
    // A checksum mismatch explains an auth failure better than the auth failure itself.
    const d = hashing.digest();
    if (record.sha256 && d.sha256 !== record.sha256 && record.storedBytes !== null && d.bytes === record.storedBytes) {
      throw new BackupIntegrityError(`checksum mismatch for backup ${record.id}: object SHA-256 ${d.sha256}, manifest says ${record.sha256}`, record.id);
    }
    throw integrityError(record, err);
  }
  const d = hashing.digest();
  if (record.storedBytes !== null && d.bytes !== record.storedBytes) {
    await fs.rm(archiveFile, { force: true });
    throw new BackupIntegrityError(`size mismatch for backup ${record.id}: object has ${d.bytes} bytes, manifest says ${record.storedBytes}`, record.id);
  }
  if (record.sha256 && d.sha256 !== record.sha256) {
    await fs.rm(archiveFile, { force: true });
    throw new BackupIntegrityError(`checksum mismatch for backup ${record.id}: object SHA-256 ${d.sha256}, manifest says ${record.sha256}`, record.id);
  }
}

/** encrypted stream -> (tap) -> age decrypt -> `zstd -d` -> file or a consumer's stdin. */
export async function decryptToArchive(
  source: NodeJS.ReadableStream,
  tap: Transform,
  identity: AgeIdentity,
  archiveFile: string,
  signal?: AbortSignal,
): Promise<void> {
  const zstd = spawn('zstd', ['-d', '-q', '-f', '-o', archiveFile], { env: childEnv(), stdio: ['pipe', 'ignore', 'pipe'], signal });
  const zstdErr = collectStderr(zstd);
  const exited = exitOf(zstd);
  const spawnFailed = new Promise<never>((_, reject) => zstd.once('error', (e) => reject(new Error(`zstd: ${e.message}`))));
  spawnFailed.catch(() => {});
  await Promise.race([pipeline(source, tap, new AgeDecryptStream(identity), zstd.stdin, { signal }), spawnFailed]).catch(async (err) => {
    zstd.kill('SIGKILL');
    await exited;
    throw err;
  });
  const { code, signal: sig } = await exited;
  if (code !== 0) throw new BackupIntegrityError(`zstd could not decompress the archive (exit ${code ?? sig}): ${zstdErr()}`);
}

/**
 * Restores a pg_dump custom archive into an existing (normally empty) database. Stops at the
 * first error. Throws RestoreError with pg_restore's stderr.
 */
export async function restoreArchive(
  archiveFile: string,
  targetDatabaseUrl: string,
  opts: { jobs?: number; signal?: AbortSignal; binDir?: string; passwordEnv?: string; clean?: boolean } = {},
): Promise<void> {
  const { url, env } = libpqArgs({ url: targetDatabaseUrl, passwordEnv: opts.passwordEnv });
  const args = ['--exit-on-error', '--no-owner', '--dbname', url];
  // Restoring over an existing database (an approved change) drops each object first.
  if (opts.clean) args.push('--clean', '--if-exists');
  if (opts.jobs && opts.jobs > 1) args.push('--jobs', String(opts.jobs));
  args.push(archiveFile);
  const bin = pgBin(opts.binDir ?? process.env.FIREBREAK_PG_BIN_DIR, 'pg_restore');
  const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'], signal: opts.signal });
  const stderr = collectStderr(child);
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

