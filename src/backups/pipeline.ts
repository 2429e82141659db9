/**
 * Taking one backup, streamed end to end with bounded memory:
 *
 *   pg_dump -Fc -Z0 --snapshot=S  →  zstd -N  →  age (X25519, 64 KiB chunks)  →  multipart upload
 *
 * while measuring raw bytes, stored bytes and the stored object's SHA-256. The backup lands in
 * two steps, so people see it arrive at the pipeline's speed and its verification right after:
 *
 *   running  → uploaded  pg_dump and zstd exited 0, the upload completed and the store holds
 *                        exactly the bytes sent (size checked);
 *   uploaded → verified  the re-read check passed, the exact row counts (same snapshot) are in,
 *                        and the manifest (written last) is in the store.
 *
 * Only `verified` is a good backup; a failed verification records the backup `failed` and
 * alerts like any other failure. The encryptor seals its final chunk only after pg_dump's exit
 * code is known (Node reports end of stdout first), so the object of a failed dump can never
 * decrypt as complete even if something kept it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv } from '../child-env.js';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import type { Config } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { appendEvent } from '../events/log.js';
import { backupDuration, backupLastSuccess, backupRuns, backupSizeBytes } from '../ops/metrics.js';
import { StorageError } from '../storage/index.js';
import { AgeEncryptStream, parseIdentity, parseRecipient, type AgeIdentity } from './age.js';
import type { BackupTier } from './config.js';
import {
  BACKUP_FORMAT, BackupError, BackupIntegrityError, newBackupId, objectKeys, type BackupManifest, type BackupRecord, type Verification,
} from './model.js';
import {
  clientConfig, collectStderr, countRowsOn, databaseName, databaseSizeOn, endSnapshot, exitOf, exportSnapshot, libpqArgs, majorOfServerVersionNum, pgBin, serverVersionOn, toolVersion,
} from './pgtools.js';
import { backupStore } from './restore.js';
import { failAbandoned, findBackup, insertRunningBackup, markFailed, markUploaded, markVerified, tryLockBackups, unlockBackups } from './store.js';
import { checkStoredObject } from './verify.js';

/** What taking a backup needs from the app; AppContext fits. */
export interface BackupRunContext {
  pool: pg.Pool;
  config: Config;
  clock: Clock;
  log?: Logger;
}

/** A database to back up, resolved from config (`backups.databases`, else Firebreak's own). */
export interface BackupTarget {
  name: string;
  url: string;
  passwordEnv?: string;
  passfile?: string;
}

export function backupTargets(config: Config): BackupTarget[] {
  if (config.backups.databases.length) return config.backups.databases;
  if (!config.databaseUrl) return [];
  return [{ name: databaseName(config.databaseUrl).replace(/[^a-z0-9_-]/gi, '_'), url: config.databaseUrl }];
}

/** The named target, or the only one; a friendly error names the configured ones. */
export function findTarget(config: Config, name?: string): BackupTarget {
  const all = backupTargets(config);
  if (!all.length) throw new BackupError('preflight', 'no database to back up: configure backups.databases (or DATABASE_URL)');
  if (!name) {
    if (all.length === 1) return all[0]!;
    throw new BackupError('preflight', `several databases are configured (${all.map((t) => t.name).join(', ')}): name one`);
  }
  const t = all.find((x) => x.name === name);
  if (!t) throw new BackupError('preflight', `no database named "${name}" is configured for backups; configured: ${all.map((x) => x.name).join(', ')}`);
  return t;
}

export interface BackupProgress {
  id: string;
  database: string;
  phase: 'dumping' | 'verifying' | 'manifest';
  /** The uncompressed archive's size, known once the dump is complete (pg_dump writes into zstd directly). */
  rawBytes?: number;
  /** Bytes uploaded so far (compressed and encrypted). */
  storedBytes: number;
  elapsedMs: number;
  /** The pg_dump process, while it runs (operators may need to find it). */
  pgDumpPid?: number;
  /** Set once the backup has landed (status `uploaded`): how long the pipeline took. */
  uploadedMs?: number;
}

export interface RunBackupOptions {
  tier: BackupTier;
  requestedBy: string;
  /** Stops the backup; it is recorded as interrupted, never good. */
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  /** Default: backups.progressEverySeconds. */
  progressEveryMs?: number;
  /** Called once the backup has its id and row (before the dump starts). */
  onStarted?: (record: BackupRecord) => void | Promise<void>;
}

export interface BackupOutcome {
  record: BackupRecord;
  /** Set when the backup is not good; `record.status` is then failed or interrupted. */
  error?: BackupError;
}

/**
 * Takes one backup of `target`. Throws BackupError('lock') when a backup of the same database
 * is already running (no row is written); every other failure is recorded on the backup's row
 * and returned as `error`, with `record.status` failed or interrupted.
 */
export async function runBackup(ctx: BackupRunContext, target: BackupTarget, opts: RunBackupOptions): Promise<BackupOutcome> {
  const lock = await ctx.pool.connect();
  try {
    if (!(await tryLockBackups(lock, target.name))) throw new BackupError('lock', `a backup of ${target.name} is already running; backups of one database never overlap`);
    try {
      await failAbandoned(ctx.pool, target.name, ctx.clock.now());
      return await backupLocked(ctx, target, opts);
    } finally {
      await unlockBackups(lock, target.name).catch(() => {});
    }
  } finally {
    lock.release();
  }
}

/** One backup in flight: what its steps share, and what the failure path must clean up. */
interface BackupRun {
  ctx: BackupRunContext;
  target: BackupTarget;
  opts: RunBackupOptions;
  store: ReturnType<typeof backupStore>;
  id: string;
  keys: ReturnType<typeof objectKeys>;
  recipientText: string;
  startedAt: Date;
  /** Wall time for durations and progress; the clock may be a test's. */
  t0: number;
  stop: AbortController;
  facts: { serverVersion?: string; pgDumpVersion?: string; snapshotAt?: Date; rawBytes?: number; storedBytes?: number };
  children: ChildProcess[];
  /** The connection holding the snapshot, while it is open. */
  source?: pg.Client;
  uploaded: boolean;
  recordedGood: boolean;
  timer?: NodeJS.Timeout;
  phase: BackupProgress['phase'];
  /** Reports progress now; also runs every progressEverySeconds from the start of the stream. */
  report: () => void;
  uploadedMs?: number;
}

/** What the pre-flight settled: who can read the backup, and the snapshot the dump reads. */
interface Preflight {
  recipient: ReturnType<typeof parseRecipient>;
  identity?: AgeIdentity;
  dumpBin: string;
  snapshot?: string;
  /** pg_database_size when the snapshot was taken: sizes the upload's parts. */
  estimateBytes: number;
}

/** What the stream stored. */
interface Streamed {
  sha256: string;
  /** The uncompressed archive's size, as zstd counted it; null if zstd did not say. */
  rawBytes: number | null;
  storedBytes: number;
}

/**
 * Row first, then pre-flight → stream → `uploaded` → (verify ‖ row counts) → manifest →
 * `verified`; any failure is recorded on the row.
 */
async function backupLocked(ctx: BackupRunContext, target: BackupTarget, opts: RunBackupOptions): Promise<BackupOutcome> {
  const run = await startRun(ctx, target, opts);
  const onOuterAbort = () => run.stop.abort(new BackupError('interrupted', 'interrupted: Firebreak is shutting down or the backup was cancelled'));
  if (opts.signal?.aborted) onOuterAbort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    await opts.onStarted?.((await findBackup(ctx.pool, run.id))!);
    const pre = await preflight(run);
    const streamed = await streamToStore(run, pre);
    await recordUploaded(run, streamed);
    // The re-read runs in Firebreak and the store, the counts in PostgreSQL: side by side. The
    // counts start only now, so they never take a core from the pipeline people are waiting on.
    const [verification, rowCounts] = await Promise.all([verifyStored(run, streamed, pre.identity), countInSnapshot(run)]);
    run.phase = 'manifest';
    return await writeManifest(run, streamed, verification, rowCounts);
  } catch (caught) {
    return await recordFailure(run, caught);
  } finally {
    if (run.timer) clearInterval(run.timer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** The backup's id, object keys and `running` row. */
async function startRun(ctx: BackupRunContext, target: BackupTarget, opts: RunBackupOptions): Promise<BackupRun> {
  const cfg = ctx.config.backups;
  const store = backupStore(ctx);
  const startedAt = ctx.clock.now();
  const t0 = Date.now();
  const id = newBackupId(target.name, startedAt, randomBytes(2).toString('hex'));
  const keys = objectKeys(cfg.storage.prefix, target.name, id, startedAt);
  const recipientText = cfg.encryption.recipient ?? '';
  await insertRunningBackup(ctx.pool, {
    id, database: target.name, tier: opts.tier, ...keys, storeLocation: store.location, recipient: recipientText,
    startedAt, requestedBy: opts.requestedBy, format: BACKUP_FORMAT,
  });
  return {
    ctx, target, opts, store, id, keys, recipientText, startedAt, t0, stop: new AbortController(),
    facts: {}, children: [], uploaded: false, recordedGood: false, phase: 'dumping', report: () => {},
  };
}

/** Pre-flight: the keys are usable, pg_dump is new enough for the server, and one snapshot serves the dump and the row counts. */
async function preflight(run: BackupRun): Promise<Preflight> {
  const cfg = run.ctx.config.backups;
  const { target, facts } = run;
  if (!run.recipientText) {
    throw new BackupError('preflight', 'no encryption recipient: set backups.encryption.recipient (env FIREBREAK_BACKUP_RECIPIENT) to an age1... public key');
  }
  let recipient;
  try {
    recipient = parseRecipient(run.recipientText);
  } catch (err) {
    throw new BackupError('preflight', `backups.encryption.recipient is not a usable age recipient: ${(err as Error).message}`);
  }
  const identity = optionalIdentity(cfg.encryption.identity);

  const dumpBin = pgBin(cfg.pgBinDir, 'pg_dump');
  const tool = await toolVersion(dumpBin).catch((err: unknown) => {
    throw new BackupError('preflight', (err as Error).message);
  });
  facts.pgDumpVersion = tool.version;
  const source = new pg.Client(clientConfig(target));
  run.source = source;
  source.on('error', () => {});
  try {
    await source.connect();
  } catch (err) {
    throw new BackupError('preflight', `cannot connect to database ${target.name}: ${(err as Error).message}`);
  }
  const sv = await serverVersionOn(source);
  const serverMajor = majorOfServerVersionNum(sv.num);
  facts.serverVersion = sv.version;
  if (tool.major < serverMajor) {
    throw new BackupError(
      'preflight',
      `pg_dump ${tool.version} is older than the server of ${target.name} (PostgreSQL ${facts.serverVersion}): pg_dump must be at least the server's major version. Install postgresql-client-${serverMajor} or point backups.pgBinDir at its bin directory.`,
    );
  }
  const snapshot = await exportSnapshot(source, cfg.rowCounts);
  facts.snapshotAt = run.ctx.clock.now();
  const estimateBytes = await databaseSizeOn(source);
  return { recipient, identity, dumpBin, snapshot, estimateBytes };
}

/** The stream: pg_dump | zstd | age | multipart upload; good only if every stage ended well and the store holds every byte. */
async function streamToStore(run: BackupRun, pre: Preflight): Promise<Streamed> {
  const cfg = run.ctx.config.backups;
  const { target, opts, store, keys, stop, children } = run;
  const { url, env } = libpqArgs(target);
  const dumpArgs = ['--format=custom', '--compress=0', '--no-password', `--dbname=${url}`, ...(pre.snapshot ? [`--snapshot=${pre.snapshot}`] : [])];
  const dump = spawn(pre.dumpBin, dumpArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // pg_dump writes straight into zstd, as in a shell pipeline: the uncompressed archive (3-5x
  // what is stored) never passes through Node, which halves Firebreak's CPU per backup. zstd's
  // -vv summary then gives the exact archive size (see zstdSummary).
  const zstd = spawn('zstd', ['-vv', '--no-progress', `-${cfg.zstdLevel}`, '-c'], { env: childEnv(), stdio: [dump.stdout, 'pipe', 'pipe'] });
  // Only zstd may hold the read end: if zstd dies, pg_dump must get EPIPE, not block forever.
  dump.stdout.destroy();
  children.push(dump, zstd);
  const dumpErr = collectStderr(dump);
  const zstdErr = collectStderr(zstd);
  const dumpExit = exitOf(dump);
  const zstdExit = exitOf(zstd);
  const spawnFailed = new Promise<never>((_, reject) => {
    dump.once('error', (e) => reject(new BackupError('pg_dump', `pg_dump could not start: ${e.message}`)));
    zstd.once('error', (e) => reject(new BackupError('zstd', `zstd could not start: ${e.message} (install zstd)`)));
  });
  spawnFailed.catch(() => {});

  // The encryptor also counts what zstd gave it and hashes what it gives the store.
  const encrypt = new AgeEncryptStream(pre.recipient, async () => {
    const d = await dumpExit;
    if (d.code !== 0) {
      throw new BackupError('pg_dump', `pg_dump exited with ${d.code !== null ? `code ${d.code}` : `signal ${d.signal}`}${dumpErr() ? `: ${lastLines(dumpErr())}` : ''}`);
    }
    const z = await zstdExit;
    if (z.code !== 0) throw new BackupError('zstd', `zstd exited with ${z.code ?? z.signal}: ${lastLines(zstdErr())}`);
  }, { sha256: true });

  const every = opts.progressEveryMs ?? cfg.progressEverySeconds * 1000;
  run.report = () =>
    opts.onProgress?.({
      id: run.id, database: target.name, phase: run.phase, rawBytes: run.facts.rawBytes, storedBytes: encrypt.bytesOut, elapsedMs: Date.now() - run.t0,
      pgDumpPid: run.phase === 'dumping' ? dump.pid : undefined, uploadedMs: run.uploadedMs,
    });
  if (opts.onProgress) run.timer = setInterval(run.report, every);

  // Any failing stage stops every other one, so nothing waits forever on a dead neighbour.
  const failAll = (err: unknown) => {
    for (const c of children) c.kill('SIGKILL');
    if (!encrypt.destroyed) encrypt.destroy(err as Error);
  };
  stop.signal.addEventListener('abort', () => failAll(stop.signal.reason), { once: true });
  const stages = [
    pipeline(zstd.stdout, encrypt),
    store.upload(keys.objectKey, encrypt, { signal: stop.signal, expectedBytes: pre.estimateBytes }),
  ].map((p) => p.catch((err: unknown) => {
    failAll(err);
    throw err;
  }));
  const settled = await Promise.race([Promise.allSettled(stages), spawnFailed]);
  if (stop.signal.aborted) throw stop.signal.reason;
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
  if (failures.length) throw await mostTelling(failures, dumpExit, dumpErr);
  run.uploaded = true;
  // Belt and braces: the encryptor already gated on these, but a good backup must prove them here too.
  const d = await dumpExit;
  if (d.code !== 0) throw new BackupError('pg_dump', `pg_dump exited with ${d.code ?? d.signal}: ${lastLines(dumpErr())}`);
  const summary = zstdSummary(zstdErr());
  if (summary && summary.out !== encrypt.bytesIn) {
    throw new BackupError('zstd', `zstd reports ${summary.out} compressed bytes, Firebreak read ${encrypt.bytesIn}`);
  }
  if (!summary) run.ctx.log?.warn({ backupId: run.id, zstd: lastLines(zstdErr()) }, 'could not read the archive size from zstd -vv; the backup records no raw size');
  run.facts.rawBytes = summary?.in;
  const storedBytes = encrypt.bytesOut;
  run.facts.storedBytes = storedBytes;
  const sha256 = encrypt.sha256();
  const head = await store.head(keys.objectKey);
  if (!head || head.size !== storedBytes) {
    throw new BackupError('upload', `the store holds ${head ? `${head.size} bytes` : 'nothing'} at ${keys.objectKey}, the upload sent ${storedBytes}`);
  }
  return { sha256, rawBytes: summary?.in ?? null, storedBytes };
}

/**
 * Bytes in and out from zstd's -vv summary (`/*stdin*\ : 32.41%   (1049835271 B => 340268955 B, /*stdout*\)`),
 * exact where -v rounds to MiB. Undefined when the line is not there (another zstd version).
 */
export function zstdSummary(stderr: string): { in: number; out: number } | undefined {
  const m = /\(\s*(\d+) B =>\s*(\d+) B,/.exec(stderr);
  return m ? { in: Number(m[1]), out: Number(m[2]) } : undefined;
}

/** The backup has landed: record it `uploaded` (not good yet) and tell whoever watches, at once. */
async function recordUploaded(run: BackupRun, s: Streamed): Promise<void> {
  const { facts } = run;
  await markUploaded(run.ctx.pool, run.id, {
    sha256: s.sha256, rawBytes: s.rawBytes, storedBytes: s.storedBytes, serverVersion: facts.serverVersion!, pgDumpVersion: facts.pgDumpVersion!, snapshotAt: facts.snapshotAt!,
  });
  run.uploadedMs = Date.now() - run.t0;
  run.phase = 'verifying';
  run.report();
}

/** Exact row counts in the dump's own snapshot (still open on `run.source`), then the snapshot ends. */
async function countInSnapshot(run: BackupRun): Promise<Record<string, number> | null> {
  const source = run.source!;
  const counts = run.ctx.config.backups.rowCounts ? await countRowsOn(source) : null;
  await endSnapshot(source);
  await source.end().catch(() => {});
  run.source = undefined;
  return counts;
}

/** Verify: re-read the stored object (decrypt, decompress, pg_restore --list) when configured. */
async function verifyStored(run: BackupRun, s: Streamed, identity: AgeIdentity | undefined): Promise<Verification> {
  const cfg = run.ctx.config.backups;
  const { stop } = run;
  let verification: Verification = {};
  if (cfg.verifyAfterBackup) {
    try {
      verification = await checkStoredObject(run.store, { id: run.id, objectKey: run.keys.objectKey, sha256: s.sha256, storedBytes: s.storedBytes, rawBytes: s.rawBytes }, identity, {
        signal: stop.signal, pgBinDir: cfg.pgBinDir,
      });
    } catch (err) {
      if (stop.signal.aborted) throw stop.signal.reason;
      throw new BackupError('verify', (err as Error).message, { cause: err });
    }
  }
  if (stop.signal.aborted) throw stop.signal.reason;
  return verification;
}

/** The manifest, written last: only a backup with its manifest in the store is good. Then the row, metrics and event. */
async function writeManifest(run: BackupRun, s: Streamed, verification: Verification, rowCounts: Record<string, number> | null): Promise<BackupOutcome> {
  const { ctx, target, opts, id, keys, facts } = run;
  const cfg = ctx.config.backups;
  const finishedAt = ctx.clock.now();
  const manifest: BackupManifest = {
    version: 1, id, database: target.name, tier: opts.tier, objectKey: keys.objectKey, format: BACKUP_FORMAT,
    encryption: { scheme: 'age-v1-x25519', recipient: run.recipientText }, compression: { tool: 'zstd', level: cfg.zstdLevel },
    serverVersion: facts.serverVersion!, pgDumpVersion: facts.pgDumpVersion!, snapshotAt: facts.snapshotAt!.toISOString(),
    startedAt: run.startedAt.toISOString(), finishedAt: finishedAt.toISOString(), rawBytes: s.rawBytes, storedBytes: s.storedBytes,
    sha256: s.sha256, rowCounts, verification,
  };
  try {
    await run.store.putSmall(keys.manifestKey, JSON.stringify(manifest, null, 2) + '\n', 'application/json');
  } catch (err) {
    throw new BackupError('manifest', `could not write the manifest ${keys.manifestKey}: ${(err as Error).message}`);
  }
  // From here the manifest is written and the row may read verified even if this call fails
  // (a PostgreSQL restart can lose the answer to a committed UPDATE): the object must stay.
  run.recordedGood = true;
  await markVerified(ctx.pool, id, {
    sha256: s.sha256, rawBytes: s.rawBytes, storedBytes: s.storedBytes, serverVersion: facts.serverVersion!, pgDumpVersion: facts.pgDumpVersion!,
    snapshotAt: facts.snapshotAt!, finishedAt, verifiedAt: cfg.verifyAfterBackup ? finishedAt : null, verification, rowCounts,
  });
  const seconds = (Date.now() - run.t0) / 1000;
  backupRuns.inc({ target: target.name, outcome: 'succeeded' });
  backupDuration.observe({ target: target.name, outcome: 'succeeded' }, seconds);
  backupSizeBytes.set({ target: target.name }, s.storedBytes);
  backupLastSuccess.set({ target: target.name }, finishedAt.getTime() / 1000);
  await appendEvent(ctx.pool, {
    type: 'backup.succeeded', actor: opts.requestedBy, subject: `backup:${id}`, at: finishedAt,
    payload: { database: target.name, tier: opts.tier, rawBytes: s.rawBytes, storedBytes: s.storedBytes, sha256: s.sha256, seconds: Math.round(seconds) },
  }).catch((err: unknown) => ctx.log?.warn({ err, backupId: id }, 'could not record the backup event'));
  return { record: (await findBackup(ctx.pool, id))! };
}

/** Any step failed: stop what runs, remove a manifest-less object, record failed or interrupted. */
async function recordFailure(run: BackupRun, caught: unknown): Promise<BackupOutcome> {
  const { ctx, target, opts, id } = run;
  const err = asBackupError(caught);
  const interrupted = err.step === 'interrupted';
  for (const c of run.children) c.kill('SIGKILL');
  // Ending the connection (not ROLLBACK) so a long row count in flight does not delay the report.
  if (run.source) await run.source.end().catch(() => {});
  // A complete object without a manifest must not linger as a lookalike of a good backup.
  if (run.uploaded && !run.recordedGood) await run.store.delete(run.keys.objectKey).catch(() => {});
  const finishedAt = ctx.clock.now();
  const outcome = interrupted ? 'interrupted' : 'failed';
  await markFailed(ctx.pool, id, `${err.step}: ${err.message}`, finishedAt, run.facts, outcome);
  backupRuns.inc({ target: target.name, outcome });
  backupDuration.observe({ target: target.name, outcome }, (Date.now() - run.t0) / 1000);
  ctx.log?.warn({ backupId: id, database: target.name, step: err.step, err: err.message }, 'backup failed');
  await appendEvent(ctx.pool, {
    type: `backup.${outcome}`, actor: opts.requestedBy, subject: `backup:${id}`, at: finishedAt,
    payload: { database: target.name, tier: opts.tier, step: err.step, error: err.message },
  }).catch(() => {});
  return { record: (await findBackup(ctx.pool, id))!, error: err };
}

function optionalIdentity(text: string | undefined): AgeIdentity | undefined {
  if (!text) return undefined;
  try {
    return parseIdentity(text);
  } catch (err) {
    throw new BackupError('preflight', `the backup identity (FIREBREAK_BACKUP_IDENTITY) is not usable: ${(err as Error).message}`);
  }
}

function lastLines(s: string, n = 3): string {
  return s.split('\n').filter(Boolean).slice(-n).join(' | ');
}

function asBackupError(err: unknown): BackupError {
  if (err instanceof BackupError) return err;
  if (err instanceof StorageError) return new BackupError('upload', err.message, { cause: err });
  if (err instanceof BackupIntegrityError) return new BackupError('verify', err.message, { cause: err });
  return new BackupError('upload', (err as Error)?.message ?? String(err), { cause: err });
}

/**
 * When one stage fails the others fail in sympathy; the message should name the cause. A
 * pg_dump that died explains a broken pipe, so its exit code wins when it is non-zero.
 */
async function mostTelling(
  failures: unknown[],
  dumpExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  dumpErr: () => string,
): Promise<BackupError> {
  const own = failures.find((f): f is BackupError => f instanceof BackupError && f.step !== 'upload');
  if (own) return own;
  const d = await Promise.race([dumpExit, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
  if (d && d.code !== 0 && d.signal !== 'SIGKILL') {
    return new BackupError('pg_dump', `pg_dump exited with ${d.code ?? d.signal}: ${lastLines(dumpErr())}`);
  }
  const storage = failures.find((f) => f instanceof StorageError);
  if (storage) return asBackupError(storage);
  return asBackupError(failures[0]);
}
