/**
 * Backup use cases over the pipeline, the store and the records: take (on demand and on
 * schedule), list, show, verify (quick and full), expire, clean up, restore and the staleness
 * watch. Talks to people only through ctx.chat (the ops channel and the threads it is given).
 */
import { withClient } from '../db/pool.js';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cron from 'node-cron';
import pg from 'pg';
import type { AppContext } from '../context.js';
import type { OpsPager } from '../paging/ops-pager.js';
import type { ChatMessage, ChatSurface } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import * as view from '../templates/backups.js';
import type { BackupTier } from './config.js';
import { BackupIntegrityError, RestoreError, type BackupRecord, type Verification } from './model.js';
import { clientConfig, createDatabaseOn, databaseExistsOn, dropDatabaseOn } from './pgtools.js';
import { backupTargets, findTarget, type BackupOutcome, type BackupTarget } from './pipeline.js';
import {
  backupStore, compareRowCounts, fetchDecryptedArchive, resolveIdentity, restoreArchive, rowCounts,
} from './restore.js';
import { applyRetention, cleanupStore, planRetention, recordedAt, type CleanupResult, type RetentionPlan } from './retention.js';
import { expiredObjectKeys, findBackup, knownObjectKeys, lastStaleAlert, latestVerified, listBackups, recordVerification } from './store.js';
import { alertOps, announceScheduledBackup } from './messages.js';
import { takeBackup, type TakeBackupOptions } from './take-backup.js';
import { checkStoredObject } from './verify.js';
import { scheduleExistsSince } from '../jobs/scheduler.js';

/** A refusal a person can act on (bad name, unknown backup, existing database). */
export class BackupUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupUserError';
  }
}

export type { ProgressThread } from './messages.js';

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** What the service needs; the CLI runs it without a chat surface (it prints instead). */
export type BackupServiceContext = Pick<AppContext, 'config' | 'pool' | 'clock' | 'log' | 'shutdownSignal'> & {
  chat?: ChatSurface;
  /** Pages about failed or stale backups; the CLI has none (it prints instead). */
  paging?: Pick<OpsPager, 'pageOps'>;
};

export class BackupService {
  /** Backups this process is running, by database, so `/backup now` can answer "busy" at once. */
  private running = new Map<string, string>();

  constructor(private ctx: BackupServiceContext) {}

  get config() {
    return this.ctx.config.backups;
  }

  targets(): BackupTarget[] {
    return backupTargets(this.ctx.config);
  }

  /** Resolves the database, throwing a BackupUserError with the configured names when it is not one. */
  target(name?: string): BackupTarget {
    try {
      return findTarget(this.ctx.config, name);
    } catch (err) {
      throw new BackupUserError((err as Error).message);
    }
  }

  isRunning(database: string): boolean {
    return this.running.has(database);
  }

  /**
   * Takes one backup (take-backup.ts). With a `thread`, a reply in it shows bytes and rate
   * while it runs and a summary at the end. Failures are recorded and reported to the ops
   * channel; a backup that is already running for the database gives `busy`.
   */
  take(target: BackupTarget, opts: TakeBackupOptions): Promise<BackupOutcome | { busy: true }> {
    return takeBackup(this.ctx, this.running, target, opts);
  }

  /** A schedule's slot: the tier is monthly for a daily run on the 1st (GFS grandfathers). */
  async runScheduled(schedule: { name: string; tier: BackupTier }, database: string, slot: Date): Promise<void> {
    const tier = tierForSlot(schedule.tier, slot);
    const requestedBy = `schedule:${schedule.name}`;
    const thread = this.isRunning(database) ? undefined : await announceScheduledBackup(this.ctx, database, requestedBy);
    const out = await this.take(this.target(database), { tier, requestedBy, thread });
    if ('busy' in out) {
      this.ctx.log.info({ database, schedule: schedule.name, slot: slot.toISOString() }, 'scheduled backup skipped: one is already running for this database');
    }
  }

  async list(filter: { database?: string; limit?: number } = {}): Promise<BackupRecord[]> {
    return listBackups(this.ctx.pool, { database: filter.database, limit: filter.limit ?? 20 });
  }

  async get(id: string): Promise<BackupRecord> {
    const r = await findBackup(this.ctx.pool, id);
    if (!r) throw new BackupUserError(`no backup with id \`${id}\`; \`/backup list\` shows the ids`);
    return r;
  }

  /**
   * Re-checks a backup. Quick: re-read the object (size, SHA-256) and, with the identity,
   * decrypt and `pg_restore --list`. Full: also restore into a scratch database on the same
   * server and compare row counts with the manifest. An integrity failure demotes the backup.
   */
  async verify(id: string, opts: { full?: boolean; actor: string; signal?: AbortSignal }): Promise<{ record: BackupRecord; ok: boolean; error?: string }> {
    const record = await this.get(id);
    if (record.status !== 'verified' || !record.sha256 || record.storedBytes === null) {
      throw new BackupUserError(`backup ${id} is ${record.status}; only good backups can be verified${record.error ? ` (${record.error})` : ''}`);
    }
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.ctx.shutdownSignal]) : this.ctx.shutdownSignal;
    const store = backupStore(this.ctx);
    const identity = this.config.encryption.identity ? resolveIdentity(this.ctx) : undefined;
    let verification: Verification;
    try {
      verification = await checkStoredObject(store, { id, objectKey: record.objectKey, sha256: record.sha256, storedBytes: record.storedBytes, rawBytes: record.rawBytes }, identity, {
        signal, pgBinDir: this.config.pgBinDir,
      });
      if (opts.full) verification.fullRestore = await this.fullRestore(record, signal);
    } catch (err) {
      if (!(err instanceof BackupIntegrityError || err instanceof RestoreError)) throw err;
      await recordVerification(this.ctx.pool, id, {}, false, this.ctx.clock.now(), `verify: ${err.message}`);
      await this.event('backup.verify_failed', opts.actor, id, { error: err.message, full: !!opts.full });
      const demoted = await this.get(id);
      await this.alertOps(view.verifyResult(demoted, false, err.message));
      return { record: demoted, ok: false, error: err.message };
    }
    const ok = !verification.fullRestore || verification.fullRestore.ok;
    const error = ok ? undefined : `row counts differ after a full restore: ${(verification.fullRestore?.mismatches ?? []).join('; ')}`;
    await recordVerification(this.ctx.pool, id, verification, ok, this.ctx.clock.now(), error && `verify --full: ${error}`);
    await this.event(ok ? 'backup.verified' : 'backup.verify_failed', opts.actor, id, { verification });
    const after = await this.get(id);
    if (!ok) await this.alertOps(view.verifyResult(after, false, error));
    return { record: after, ok, error };
  }

  private async fullRestore(record: BackupRecord, signal: AbortSignal): Promise<NonNullable<Verification['fullRestore']>> {
    const target = this.target(record.database);
    const scratch = `firebreak_verify_${randomBytes(4).toString('hex')}`;
    const t0 = Date.now();
    await this.createDatabase(target, scratch);
    try {
      await this.restoreInto(record, target, scratch, { signal });
      const mismatches = compareRowCounts(record.rowCounts ?? {}, await rowCounts(urlWithDatabase(target.url, scratch), { passwordEnv: target.passwordEnv }));
      return { ok: mismatches.length === 0, seconds: Math.round((Date.now() - t0) / 1000), ...(mismatches.length ? { mismatches } : {}) };
    } finally {
      await this.dropDatabase(target, scratch).catch((err: unknown) => this.ctx.log.error({ err, scratch }, 'could not drop the verify scratch database; drop it by hand'));
    }
  }

  /**
   * Restores a backup into `into` on the server of the backup's database. A new database is
   * created; an existing one is only overwritten with `allowExisting` (the change gate's
   * approved execution). A failed restore into a new database drops it again.
   */
  async restore(
    id: string,
    into: string,
    opts: { requestedBy: string; allowExisting?: boolean; signal?: AbortSignal },
  ): Promise<{ record: BackupRecord; into: string; seconds: number; mismatches: string[]; created: boolean }> {
    if (!DB_NAME.test(into)) throw new BackupUserError(`\`${into}\` is not a plain database name: use lower-case letters, digits and _ (at most 63).`);
    const record = await this.get(id);
    if (record.status !== 'verified') throw new BackupUserError(`backup ${id} is ${record.status}; only good (verified) backups can be restored`);
    const target = this.target(record.database);
    const own = this.ctx.config.databaseUrl;
    if (own && sameDatabase(urlWithDatabase(target.url, into), own)) {
      throw new BackupUserError(`${into} is Firebreak's own database; restoring over it would erase the state this restore runs from. Restore into a new name.`);
    }
    const exists = await this.databaseExists(target, into);
    if (exists && !opts.allowExisting) {
      throw new BackupUserError(`database ${into} already exists: restoring over it needs an approved change (\`backup.restore\`); pick a new name to restore into a fresh database`);
    }
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.ctx.shutdownSignal]) : this.ctx.shutdownSignal;
    const t0 = Date.now();
    if (!exists) await this.createDatabase(target, into);
    try {
      await this.restoreInto(record, target, into, { signal, clean: exists });
    } catch (err) {
      if (!exists) await this.dropDatabase(target, into).catch(() => {});
      await this.event('backup.restore_failed', opts.requestedBy, id, { into, error: (err as Error).message });
      throw err;
    }
    const mismatches = compareRowCounts(record.rowCounts ?? {}, await rowCounts(urlWithDatabase(target.url, into), { passwordEnv: target.passwordEnv }));
    const seconds = Math.round((Date.now() - t0) / 1000);
    await this.event('backup.restored', opts.requestedBy, id, { into, existing: exists, seconds, mismatches });
    return { record, into, seconds, mismatches, created: !exists };
  }

  /** Whether `name` exists on the server of the backup's database (restore decides new vs gated). */
  async targetDatabaseExists(record: BackupRecord, name: string): Promise<boolean> {
    if (!DB_NAME.test(name)) throw new BackupUserError(`\`${name}\` is not a plain database name: use lower-case letters, digits and _ (at most 63).`);
    return this.databaseExists(this.target(record.database), name);
  }

  private async restoreInto(record: BackupRecord, target: BackupTarget, database: string, opts: { signal: AbortSignal; clean?: boolean }): Promise<void> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'firebreak-restore-'));
    try {
      const archive = path.join(dir, 'backup.dump');
      await fetchDecryptedArchive(this.ctx, record, archive, { signal: opts.signal });
      await restoreArchive(archive, urlWithDatabase(target.url, database), {
        signal: opts.signal, binDir: this.config.pgBinDir, passwordEnv: target.passwordEnv, clean: opts.clean,
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  private admin<T>(target: BackupTarget, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    return withClient(clientConfig(target), fn);
  }

  private databaseExists(target: BackupTarget, name: string): Promise<boolean> {
    return this.admin(target, (c) => databaseExistsOn(c, name));
  }

  private createDatabase(target: BackupTarget, name: string): Promise<void> {
    return this.admin(target, (c) => createDatabaseOn(c, name));
  }

  private dropDatabase(target: BackupTarget, name: string): Promise<void> {
    return this.admin(target, (c) => dropDatabaseOn(c, name));
  }

  /**
   * Plans GFS retention over verified backups whose manifest is in the store and, unless
   * `dryRun`, deletes what it expires and cleans incomplete uploads and manifest-less objects.
   */
  async expire(opts: { dryRun: boolean; actor: string }): Promise<{ plan: RetentionPlan; cleanup: CleanupResult; skipped: string[]; expired: string[]; errors: string[] }> {
    const store = backupStore(this.ctx);
    const verified = await listBackups(this.ctx.pool, { status: ['verified'], limit: 100_000 });
    // Fail-safe: a verified row whose manifest is gone is neither counted nor deleted.
    const counted: BackupRecord[] = [];
    const skipped: string[] = [];
    for (const r of verified) {
      if (await store.head(r.manifestKey)) counted.push(r);
      else skipped.push(r.id);
    }
    const plan = planRetention(counted, this.config.retention);
    const cleanup = await cleanupStore(store, this.config.storage.prefix, await knownObjectKeys(this.ctx.pool), this.ctx.clock.now(), this.config.retention.staleHours * 3_600_000, { dryRun: opts.dryRun, expiredKeys: await expiredObjectKeys(this.ctx.pool) });
    if (opts.dryRun) return { plan, cleanup, skipped, expired: [], errors: [] };
    const applied = await applyRetention(this.ctx, store, counted, plan, opts.actor);
    if (applied.errors.length) this.ctx.log.warn({ errors: applied.errors }, 'some expired backups could not be deleted; the next run retries');
    return { plan, cleanup, skipped, expired: applied.expired, errors: applied.errors };
  }

  /**
   * Alerts (once per episode) for each database whose newest good backup is older than
   * staleFactor × its schedule's interval: a missed, failed or stuck scheduled run.
   */
  async checkStaleness(): Promise<string[]> {
    const now = this.ctx.clock.now();
    const alerted: string[] = [];
    for (const t of this.targets()) {
      const interval = this.intervalFor(t.name);
      if (!interval) continue;
      const limit = interval * this.config.staleFactor;
      const last = await latestVerified(this.ctx.pool, t.name);
      const lastAt = last ? recordedAt(last).getTime() : undefined;
      if (lastAt !== undefined && now.getTime() - lastAt <= limit) continue;
      // Without a good backup yet, count from when the schedule began: a fresh install (or a
      // newly added database) has had no chance to produce one before that.
      if (lastAt === undefined) {
        const since = await scheduleExistsSince(this.ctx.pool, `backup:`, `:${t.name}`);
        if (!since || now.getTime() - since.getTime() <= limit) continue;
      }
      const subject = `backups:${t.name}`;
      const previous = await lastStaleAlert(this.ctx.pool, subject);
      if (previous && (lastAt === undefined || previous.getTime() > lastAt)) continue;
      await this.alertOps(view.backupStale(t.name, last, limit, now), { dedupKey: `backup-stale:${t.name}`, severity: 'critical' });
      await appendEvent(this.ctx.pool, { type: 'backup.stale', actor: 'firebreak', subject, at: now, payload: { database: t.name, lastGood: last?.id ?? null, limitMs: limit } });
      alerted.push(t.name);
    }
    return alerted;
  }

  /** The longest gap between runs of the most frequent schedule covering `database`. */
  intervalFor(database: string): number | undefined {
    const gaps = this.config.schedules
      .filter((s) => !s.databases.length || s.databases.includes(database))
      .map((s) => cronInterval(s.cron));
    return gaps.length ? Math.min(...gaps) : undefined;
  }

  /** Posts to the ops channel and, for `page`, pages (messages.ts). */
  alertOps(message: ChatMessage, page?: { dedupKey: string; severity: 'critical' | 'error' | 'warning' }, opts: { chat?: boolean } = {}): Promise<void> {
    return alertOps(this.ctx, message, page, opts);
  }

  private async event(type: string, actor: string, id: string, payload: Record<string, unknown>): Promise<void> {
    await appendEvent(this.ctx.pool, { type, actor, subject: `backup:${id}`, at: this.ctx.clock.now(), payload }).catch((err: unknown) =>
      this.ctx.log.warn({ err, type }, 'could not record a backup event'),
    );
  }
}

export function urlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

/** A daily run on the 1st of a month is recorded as monthly (the GFS grandfather). */
export function tierForSlot(tier: BackupTier, slot: Date): BackupTier {
  return tier === 'daily' && slot.getUTCDate() === 1 ? 'monthly' : tier;
}

/** Same server (host and port) and same database name. */
function sameDatabase(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  const port = (u: URL) => u.port || '5432';
  return x.hostname === y.hostname && port(x) === port(y) && decodeURIComponent(x.pathname) === decodeURIComponent(y.pathname);
}

const intervals = new Map<string, number>();

/** The longest gap between two consecutive slots of a cron expression over a 35-day window (UTC). */
export function cronInterval(expr: string): number {
  const cached = intervals.get(expr);
  if (cached) return cached;
  const task = cron.createTask(expr, () => {}, { timezone: 'UTC' });
  const step = expr.trim().split(/\s+/).length === 6 ? 1000 : 60_000;
  const start = Date.UTC(2026, 0, 1);
  let prev: number | undefined;
  let first: number | undefined;
  let gap = 0;
  // Scanning minutes of 35 days is ~50k cheap matches; done once per expression.
  for (let t = start; t < start + 35 * 86_400_000; t += step === 1000 ? 60_000 : step) {
    if (!task.match(new Date(t))) continue;
    if (prev !== undefined) gap = Math.max(gap, t - prev);
    first ??= t;
    prev = t;
  }
  void task.destroy();
  const result = gap || 35 * 86_400_000;
  intervals.set(expr, result);
  return result;
}
