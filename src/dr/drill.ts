import { withClient } from '../db/pool.js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { childEnv } from '../child-env.js';
import { libpqArgs } from '../backups/pgtools.js';
import { mkdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import type { DrConfig } from './config.js';
import type { BackupSource, DrBackupRecord, RowCounter } from './backup-source.js';
import {
  DrError, formatDuration, isScratchDatabaseName, scratchDatabaseName, stepsFor, verdictFor,
  type DrKind, type DrStatus, type DrTargets, type DrVerdict, type StepKey, type StepRecord,
} from './model.js';

/** Everything one run needs, resolved by the service before it starts. */
export interface DrillPlan {
  runId: number;
  kind: DrKind;
  backupId?: string;
  /** Which backed-up database to take the newest verified backup of when no id is given. */
  database?: string;
  /** Admin URL of the server the restore goes to (scratch server for dry runs, target server for execute). */
  serverUrl: string;
  /** Execute only: the database to recover into. Dry runs always use firebreak_dr_<run id>. */
  targetDatabase?: string;
  /** Firebreak's own state database, which no run may ever restore into. */
  stateDatabaseUrl?: string;
  workDir: string;
  targets: DrTargets;
}

export interface DrillDeps {
  config: DrConfig;
  clock: Clock;
  log: Logger;
  source: BackupSource;
  /** Firebreak's own database (pre-flight checks it answers). */
  statePool: Pick<pg.Pool, 'query'>;
  /** Where pg_restore lives (backups.pgBinDir); unset = PATH. */
  pgBinDir?: string;
}

export interface DrillOutcome {
  status: Exclude<DrStatus, 'running'>;
  steps: StepRecord[];
  backup?: DrBackupRecord;
  verdict: DrVerdict;
  targetDatabase: string;
  /** The first failure, named by step: what the report leads with. */
  error?: string;
  /** Execute: what the operator does next to put the recovered database into service. */
  switchTraffic?: string;
}

type Progress = (steps: StepRecord[], info: { backup?: DrBackupRecord }) => Promise<void>;

class StepFailed extends Error {}

/** The abort reason that means graceful shutdown, not a person: the run is 'interrupted'. */
export const SHUTDOWN = 'shutdown';

/** Why the run was stopped, when it was: a person's cancel or the process shutting down. */
function stopReason(signal: AbortSignal): 'cancelled' | 'interrupted' | undefined {
  if (!signal.aborted) return undefined;
  return signal.reason === SHUTDOWN ? 'interrupted' : 'cancelled';
}

/** Replaces the database name of an admin URL; credentials and options stay. */
export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

const identifier = (name: string) => '"' + name.replace(/"/g, '""') + '"';

const withAdmin = <T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> =>
  withClient({ connectionString: serverUrl, connectionTimeoutMillis: 10_000, application_name: 'firebreak-dr' }, fn);

/** Drops a scratch database; refuses any other name so a bug cannot drop a real database. */
export async function dropScratchDatabase(serverUrl: string, name: string): Promise<void> {
  if (!isScratchDatabaseName(name)) throw new DrError(`refusing to drop ${name}: not a firebreak_dr_<n> scratch database`);
  await withAdmin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${identifier(name)} WITH (FORCE)`));
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? childEnv(), signal: opts.signal, timeout: opts.timeoutMs, killSignal: 'SIGTERM' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-8192)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192)));
    child.on('error', reject);
    // Gate on the exit code, which Node reports after the end of stdout.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * pg_restore's first error, not its last lines: with -j the tail is only "a worker process
 * died unexpectedly", while the line that names the cause (a missing role, a bad object)
 * comes first.
 */
export function pgRestoreMessage(err: Error & { stderr?: unknown }): string {
  const stderr = typeof err.stderr === 'string' ? err.stderr : '';
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines.findIndex((l) => /\berror:/i.test(l) && !/worker process died/i.test(l));
  if (first < 0) return err.message;
  const cause = [lines[first]!];
  const next = lines[first + 1];
  if (next && !/^pg_restore:/.test(next)) cause.push(next);
  const command = lines.slice(first + 1).find((l) => l.startsWith('Command was:'));
  const head = /^(pg_restore failed \([^)]*\))/.exec(err.message)?.[1] ?? 'pg_restore failed';
  return `${head}: ${cause.join(' ')}${command ? ` (${command.slice(0, 200)})` : ''}`;
}

const major = (v: string | null | undefined): number | undefined => {
  const m = /(\d+)(?:\.\d+)?/.exec(v ?? '');
  return m ? Number(m[1]) : undefined;
};

/**
 * One disaster-recovery run: the ten steps in order, each timed and reported as it goes.
 * A failed or cancelled step skips the rest, except the dry run's clean-up, which always
 * runs so no scratch database outlives its drill.
 */
export class Drill {
  readonly steps: StepRecord[];
  private backup: DrBackupRecord | undefined;
  private archive: string;
  private createdTarget = false;
  /** Wall time of steps 3-8 (monotonic), set when step 8 ends: the measured RTO. */
  private rtoMs: number | undefined;
  private reporting: Promise<void> = Promise.resolve();
  private reportQueued = false;
  private readonly target: string;

  constructor(
    private deps: DrillDeps,
    private plan: DrillPlan,
    private signal: AbortSignal,
    private progress: Progress,
  ) {
    this.steps = stepsFor(plan.kind).map((d, i) => ({ n: i + 1, key: d.key, title: d.title, status: 'pending' }));
    this.target = plan.kind === 'dry-run' ? scratchDatabaseName(plan.runId) : plan.targetDatabase!;
    // Run ids are per state database: another Firebreak (or test run) on this host has its own
    // run 1, and its cleanup must not delete this drill's files under the shared workDir.
    const dir = path.join(plan.workDir, `run-${plan.runId}-${randomUUID().slice(0, 8)}`);
    this.archive = path.join(dir, 'backup.dump');
  }

  private get runDir(): string {
    return path.dirname(this.archive);
  }

  private get targetUrl(): string {
    return databaseUrl(this.plan.serverUrl, this.target);
  }

  /**
   * Sends the steps to the progress callback (the run's row, the Slack thread) off the
   * recovery's path: a slow chat edit must not lengthen the recovery or its measured RTO.
   * Reports are serialised and coalesced (each one sends the latest state); run() waits for
   * the last one before it returns.
   */
  private report(): void {
    if (this.reportQueued) return;
    this.reportQueued = true;
    this.reporting = this.reporting.then(async () => {
      this.reportQueued = false;
      try {
        await this.progress(this.steps, { backup: this.backup });
      } catch (err) {
        this.deps.log.warn({ err, run: this.plan.runId }, 'dr progress report failed');
      }
    });
  }

  /** When each running step started, on the monotonic clock its duration is measured with. */
  private startedAt = new Map<StepRecord, number>();

  private begin(key: StepKey): StepRecord {
    const s = this.steps.find((x) => x.key === key)!;
    s.status = 'running';
    s.startedAt = this.deps.clock.now().toISOString();
    this.startedAt.set(s, performance.now());
    this.report();
    return s;
  }

  private elapsed(s: StepRecord): number {
    return performance.now() - (this.startedAt.get(s) ?? performance.now());
  }

  private pass(s: StepRecord, detail: string): void {
    s.durationMs = Math.round(this.elapsed(s));
    s.status = 'passed';
    s.detail = detail;
    this.report();
  }

  /** Records the failure (or the cancel) on the step and returns what the run reports. */
  private fail(s: StepRecord, err: unknown): StepFailed {
    s.durationMs = Math.round(this.elapsed(s));
    const stopped = stopReason(this.signal);
    s.status = stopped ? 'cancelled' : 'failed';
    s.detail = stopped === 'interrupted' ? 'interrupted: Firebreak is shutting down' : stopped ? 'cancelled' : (err as Error).message;
    if (!stopped) this.deps.log.warn({ err, run: this.plan.runId, step: s.key }, 'dr step failed');
    this.report();
    return new StepFailed(`step ${s.n} (${s.title}) ${stopped ? `was ${stopped}` : 'failed'}${stopped ? '' : `: ${s.detail}`}`);
  }

  /** A step that started alongside one that failed: it stops without a verdict of its own. */
  private stopAlongside(s: StepRecord, why: string): void {
    s.durationMs = Math.round(this.elapsed(s));
    const stopped = stopReason(this.signal);
    s.status = stopped ? 'cancelled' : 'skipped';
    s.detail = stopped === 'interrupted' ? 'interrupted: Firebreak is shutting down' : stopped ? 'cancelled' : why;
  }

  private async step(key: StepKey, work: () => Promise<string>): Promise<void> {
    const s = this.begin(key);
    let detail: string;
    try {
      if (this.signal.aborted) throw new DrError('cancelled before it started');
      detail = await work();
    } catch (err) {
      throw this.fail(s, err);
    }
    this.pass(s, detail);
  }

  async run(): Promise<DrillOutcome> {
    let error: string | undefined;
    let verdict: DrVerdict = verdictFor(this.plan.targets, null, null);
    try {
      await mkdir(this.runDir, { recursive: true });
      await this.step('preflight', () => this.preflight());
      await this.step('choose', () => this.choose());
      // RTO is the wall time of steps 3-8, which overlap where the data allows (3 and 4 are
      // one stream), so it is timed as a whole rather than summed from the steps.
      const rtoStart = performance.now();
      if (this.plan.kind === 'dry-run') {
        // The scratch database is created while the archive streams in: clean-up drops it
        // whatever happens. A recovery creates its real target only from a verified archive.
        const [fetched, prepared] = await Promise.allSettled([this.fetchAndVerify(), this.step('prepare', () => this.prepare())]);
        if (fetched.status === 'rejected') throw fetched.reason;
        if (prepared.status === 'rejected') throw prepared.reason;
      } else {
        await this.fetchAndVerify();
        await this.step('prepare', () => this.prepare());
      }
      try {
        await this.step('restore', () => this.restore());
        await this.step('post-restore', () => this.postRestore());
        await this.step('validate', () => this.validate());
      } finally {
        await this.counter?.close();
      }
      this.rtoMs = Math.round(performance.now() - rtoStart);
      await this.step('report', async () => {
        verdict = this.measure();
        const missed = [verdict.rtoMet === false ? 'RTO' : '', verdict.rpoMet === false ? 'RPO' : ''].filter(Boolean);
        const line = `RTO ${formatDuration(verdict.rtoMs)} (target ${formatDuration(this.plan.targets.rtoMs)}), RPO ${formatDuration(verdict.rpoMs)} (target ${formatDuration(this.plan.targets.rpoMs)})`;
        if (missed.length) throw new DrError(`${missed.join(' and ')} target missed: ${line}`);
        return line;
      });
    } catch (err) {
      error = err instanceof StepFailed ? err.message : `unexpected error: ${(err as Error).message}`;
      for (const s of this.steps) if (s.status === 'pending' && s.key !== 'cleanup') s.status = 'skipped';
      if (!(err instanceof StepFailed)) this.deps.log.error({ err, run: this.plan.runId }, 'dr run crashed');
    }
    // RTO is only meaningful when the whole recovery path ran; RPO as soon as the backup is known.
    if (this.steps.find((s) => s.key === 'report')?.status !== 'passed' && verdict.rtoMs === null) {
      verdict = verdictFor(this.plan.targets, null, this.backup?.snapshotAt ? this.deps.clock.now().getTime() - this.backup.snapshotAt.getTime() : null);
    }
    let switchTraffic: string | undefined;
    if (this.plan.kind === 'dry-run') {
      // Clean-up runs whatever happened before it, and even after a cancel.
      const cleanup = this.steps.find((s) => s.key === 'cleanup')!;
      const t0 = performance.now();
      cleanup.status = 'running';
      cleanup.startedAt = this.deps.clock.now().toISOString();
      this.report();
      try {
        if (this.createdTarget) await dropScratchDatabase(this.plan.serverUrl, this.target);
        cleanup.status = 'passed';
        cleanup.detail = this.createdTarget ? `dropped ${this.target}; removed work files` : 'no scratch database was created; removed work files';
      } catch (err) {
        cleanup.status = 'failed';
        cleanup.detail = `could not drop ${this.target}: ${(err as Error).message}`;
        error ??= `step ${cleanup.n} (${cleanup.title}) failed: ${cleanup.detail}`;
      }
      cleanup.durationMs = Math.round(performance.now() - t0);
    } else if (!error) {
      const s = this.steps.find((x) => x.key === 'switch-traffic')!;
      switchTraffic = this.deps.config.switchTraffic
        .replaceAll('{targetUrl}', redactUrl(this.targetUrl))
        .replaceAll('{target}', this.target);
      s.status = 'passed';
      s.durationMs = 0;
      s.detail = switchTraffic;
    } else {
      const s = this.steps.find((x) => x.key === 'switch-traffic')!;
      s.status = 'skipped';
      if (this.createdTarget) error += ` (database ${this.target} was created by this run and may hold a partial restore: drop it before retrying)`;
    }
    await rm(this.runDir, { recursive: true, force: true }).catch(() => {});
    this.report();
    await this.reporting;
    const status: DrillOutcome['status'] = stopReason(this.signal) ?? (error ? 'failed' : 'passed');
    return { status, steps: this.steps, backup: this.backup, verdict, targetDatabase: this.target, error, switchTraffic };
  }

  private measure(): DrVerdict {
    const rtoMs = this.rtoMs!;
    const rpoMs = this.deps.clock.now().getTime() - this.backup!.snapshotAt!.getTime();
    return verdictFor(this.plan.targets, rtoMs, rpoMs);
  }

  private async preflight(): Promise<string> {
    const notes: string[] = [];
    await this.deps.statePool.query('SELECT 1');
    notes.push('Firebreak database ok');
    const server = await withAdmin(this.plan.serverUrl, async (c) => {
      const v = await c.query<{ v: string; can: boolean }>(
        `SELECT current_setting('server_version') AS v,
                (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can`,
      );
      return v.rows[0]!;
    }).catch((err: Error) => {
      throw new DrError(`restore server ${redactUrl(this.plan.serverUrl)} unreachable: ${err.message}`);
    });
    if (!server.can) throw new DrError(`the role on ${redactUrl(this.plan.serverUrl)} may not create databases (needs CREATEDB)`);
    notes.push(`restore server PostgreSQL ${server.v}`);
    if (this.plan.kind === 'execute') this.checkExecuteTarget();
    if (this.deps.source.pingObjectStore) {
      await this.deps.source.pingObjectStore().catch((err: Error) => {
        throw new DrError(`object store unreachable: ${err.message}`);
      });
      notes.push('object store ok');
    }
    if (this.deps.source.checkDecryptionKey) {
      await this.deps.source.checkDecryptionKey();
      notes.push('decryption key present');
    }
    const bin = this.deps.pgBinDir ? path.join(this.deps.pgBinDir, 'pg_restore') : 'pg_restore';
    const tool = await run(bin, ['--version']).catch(() => {
      throw new DrError(`${bin} is not installed (postgresql-client) or not executable`);
    });
    notes.push(tool.stdout.trim().replace(/^pg_restore \(PostgreSQL\) /, 'pg_restore '));
    const fs = await statfs(this.runDir);
    const free = fs.bavail * fs.bsize;
    if (free < this.deps.config.minFreeMiB * 1024 * 1024) {
      throw new DrError(`only ${(free / 2 ** 20).toFixed(0)} MiB free in ${this.plan.workDir} (minimum ${this.deps.config.minFreeMiB} MiB)`);
    }
    notes.push(`${(free / 2 ** 30).toFixed(1)} GiB free`);
    this.freeBytes = free;
    this.pgRestoreMajor = major(tool.stdout);
    return notes.join(' · ');
  }

  private freeBytes = 0;
  private pgRestoreMajor: number | undefined;

  private checkExecuteTarget(): void {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.target)) throw new DrError(`target "${this.target}" is not a plain database name (a-z, 0-9, _)`);
    if (isScratchDatabaseName(this.target)) throw new DrError(`target ${this.target} is a drill scratch name; choose another`);
    if (this.plan.stateDatabaseUrl) {
      const a = new URL(this.plan.stateDatabaseUrl);
      const b = new URL(this.targetUrl);
      if (a.hostname === b.hostname && (a.port || '5432') === (b.port || '5432') && a.pathname === b.pathname) {
        throw new DrError(`target ${this.target} is Firebreak's own database`);
      }
    }
  }

  private async choose(): Promise<string> {
    const src = this.deps.source;
    const rec = this.plan.backupId ? await src.getBackup(this.plan.backupId) : await src.latestVerifiedBackup(this.plan.database);
    if (!rec) {
      throw new DrError(this.plan.backupId ? `no backup with id ${this.plan.backupId}` : `no verified backup${this.plan.database ? ` of ${this.plan.database}` : ''} to restore`);
    }
    // Only a backup whose upload and checks completed is a recovery point; anything else may be partial.
    if (rec.status !== 'verified') throw new DrError(`backup ${rec.id} is ${rec.status}, not verified: only verified backups are restored`);
    if (!rec.snapshotAt || rec.storedBytes === null) throw new DrError(`backup ${rec.id} has no manifest (snapshot time or size missing), so it cannot be trusted`);
    this.backup = rec;
    const dumpMajor = major(rec.pgDumpVersion);
    if (dumpMajor && this.pgRestoreMajor && dumpMajor > this.pgRestoreMajor) {
      throw new DrError(`backup ${rec.id} was made by pg_dump ${rec.pgDumpVersion}; pg_restore ${this.pgRestoreMajor} cannot read it`);
    }
    // Only the archive lands on disk: the stored object streams through memory into it.
    const need = rec.rawBytes ?? rec.storedBytes * 4;
    if (need > this.freeBytes) throw new DrError(`backup needs ${(need / 2 ** 20).toFixed(0)} MiB of work space, ${(this.freeBytes / 2 ** 20).toFixed(0)} MiB free`);
    const age = this.deps.clock.now().getTime() - rec.snapshotAt.getTime();
    return `${rec.id} of ${rec.database}, snapshot ${rec.snapshotAt.toISOString()} (${formatDuration(age)} ago), ${(rec.storedBytes / 2 ** 20).toFixed(1)} MiB${rec.verifiedAt ? ', verified' : ', NOT verified yet'}`;
  }

  /**
   * Steps 3 and 4 as one stream: the object's bytes go from the store through SHA-256, age and
   * zstd into the archive as they arrive (a manual `aws s3 cp - | age -d | zstd -d` does the
   * same). Step 3 ends when the store has sent the last byte and its size matches the
   * manifest; step 4 when the archive is written, every chunk authenticated and the SHA-256
   * compared. Nothing reads the archive before both have passed.
   */
  private async fetchAndVerify(): Promise<void> {
    const fetch = this.begin('fetch');
    const verify = this.begin('verify');
    const expected = this.backup!.storedBytes!;
    let sizeError: DrError | undefined;
    try {
      if (this.signal.aborted) throw new DrError('cancelled before it started');
      await this.deps.source.fetchArchive(this.backup!, this.archive, {
        signal: this.signal,
        onFetched: (bytes) => {
          if (bytes !== expected) {
            sizeError = new DrError(`fetched ${bytes} bytes, the manifest says ${expected}`);
            return;
          }
          const s = this.elapsed(fetch) / 1000;
          this.pass(fetch, `${(bytes / 2 ** 20).toFixed(1)} MiB at ${(bytes / 2 ** 20 / Math.max(s, 0.001)).toFixed(0)} MiB/s, streamed into step 4`);
        },
      });
    } catch (err) {
      if (fetch.status === 'passed') throw this.fail(verify, err);
      const failed = this.fail(fetch, sizeError ?? err);
      this.stopAlongside(verify, 'stopped: the fetch did not complete');
      throw failed;
    }
    this.pass(verify, 'SHA-256 matches the manifest; every chunk authenticated; decrypted and decompressed as it arrived');
  }

  private async prepare(): Promise<string> {
    return withAdmin(this.plan.serverUrl, async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [this.target]);
      if (this.plan.kind === 'dry-run') {
        // Run ids are unique per Firebreak, so an existing one belongs to someone else sharing the server.
        if (exists.rowCount) throw new DrError(`${this.target} already exists on ${new URL(this.plan.serverUrl).host}: is another Firebreak using this scratch server? Drop it or set dr.scratchDatabaseUrl`);
        // Marked before CREATE: if the reply is lost, clean-up still drops what may exist.
        this.createdTarget = true;
        await c.query(`CREATE DATABASE ${identifier(this.target)} TEMPLATE template0`);
        return `created scratch database ${this.target} on ${new URL(this.plan.serverUrl).host}`;
      }
      if (!exists.rowCount) {
        await c.query(`CREATE DATABASE ${identifier(this.target)} TEMPLATE template0`);
        this.createdTarget = true;
        return `created ${this.target} on ${new URL(this.plan.serverUrl).host}`;
      }
      // Never restore over data: recovering into a database that holds tables could mix two states.
      const tables = await withAdmin(this.targetUrl, (t) =>
        t.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'`),
      );
      if (tables.rows[0]!.n > 0) throw new DrError(`${this.target} already holds ${tables.rows[0]!.n} tables; recover into a new or empty database`);
      return `${this.target} exists and is empty`;
    });
  }

  /** Counts rows of tables already restored while pg_restore goes on (step 8 then has less left). */
  private counter: RowCounter | undefined;

  private async restore(): Promise<string> {
    const jobs = this.deps.config.restoreJobs;
    const hook = this.deps.config.postRestore;
    // Counting early is right only when nothing changes the data after pg_restore: with a
    // post-restore hook (migrations, fix-ups) step 8 counts after the hook, as it always did.
    if (!hook.command && !hook.sql && Object.keys(this.backup!.rowCounts ?? {}).length) this.counter = this.deps.source.rowCounter?.(this.targetUrl);
    const counter = this.counter;
    await this.deps.source
      .restore(this.archive, this.targetUrl, { jobs, signal: this.signal, ...(counter ? { onTableRestored: (t: string) => counter.tableRestored(t) } : {}) })
      .catch((err: Error & { stderr?: unknown }) => {
        throw new DrError(pgRestoreMessage(err));
      });
    // The archive is removed with the run's directory after step 9, off the RTO's path.
    // Backups are pg_dump archives of one database: roles and other globals are not in them.
    return `pg_restore -j ${jobs} --exit-on-error into ${this.target} (no globals captured with this backup)`;
  }

  private async postRestore(): Promise<string> {
    const hook = this.deps.config.postRestore;
    const done: string[] = [];
    if (hook.command) {
      const [cmd, ...args] = hook.command as [string, ...string[]];
      // The hook reaches the restored database through libpq's variables; the URL it gets
      // carries no password, and nothing else of Firebreak's environment (tokens, keys) is passed.
      const { url, env: pgEnv } = libpqArgs({ url: this.targetUrl });
      const u = new URL(url);
      const env = {
        ...pgEnv, DATABASE_URL: url, PGHOST: u.hostname, PGPORT: u.port || '5432',
        PGDATABASE: this.target, PGUSER: decodeURIComponent(u.username),
      };
      const r = await run(cmd, args, { env, signal: this.signal, timeoutMs: hook.timeoutSeconds * 1000 }).catch((err: Error) => {
        throw new DrError(`could not run ${cmd}: ${err.message}`);
      });
      if (r.code !== 0) throw new DrError(`${cmd} exited ${r.code ?? 'on a signal (timeout?)'}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
      done.push(`ran ${cmd}`);
    }
    if (hook.sql) {
      await withAdmin(this.targetUrl, (c) => c.query(hook.sql!)).catch((err: Error) => {
        throw new DrError(`post-restore SQL failed: ${err.message}`);
      });
      done.push('ran post-restore SQL');
    }
    return done.length ? done.join('; ') : 'no hook configured';
  }

  private async validate(): Promise<string> {
    const notes: string[] = [];
    const expected = this.backup!.rowCounts ?? {};
    const tables = Object.keys(expected);
    if (tables.length === 0) notes.push('manifest has no row counts: none compared');
    else {
      const actual = this.counter ? await this.counter.counts() : await this.deps.source.rowCounts(this.targetUrl);
      const wrong = tables.filter((t) => actual[t] !== expected[t]);
      if (wrong.length) {
        const shown = wrong.slice(0, 5).map((t) => `${t}: expected ${expected[t]}, restored ${actual[t] ?? 'missing'}`);
        throw new DrError(`row counts differ from the manifest in ${wrong.length} table(s): ${shown.join('; ')}`);
      }
      const rows = tables.reduce((n, t) => n + (expected[t] ?? 0), 0);
      const early = this.counter?.earlyCount ? ` (${this.counter.earlyCount} counted while the restore ran)` : '';
      notes.push(`${tables.length} tables, ${rows} rows match the manifest${early}`);
    }
    const checks = this.deps.config.smokeChecks;
    if (checks.length) {
      await withAdmin(this.targetUrl, async (c) => {
        await c.query("SET statement_timeout = '60s'");
        for (const check of checks) {
          if (this.signal.aborted) throw new DrError('cancelled');
          const r = await c.query({ text: check.sql, rowMode: 'array' }).catch((err: Error) => {
            throw new DrError(`smoke check "${check.name}" failed: ${err.message}`);
          });
          const first = (r.rows[0] as unknown[] | undefined)?.[0];
          const got = first === null || first === undefined ? '' : first instanceof Date ? first.toISOString() : String(first);
          const want = String(check.expect);
          if (got !== want) throw new DrError(`smoke check "${check.name}": expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
        }
      });
      notes.push(`${checks.length} smoke check(s) passed`);
    }
    return notes.join(' · ');
  }
}
