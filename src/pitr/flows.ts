import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatMessage, ChatSurface } from '../chat/surface.js';
import type { PitrConfig } from './config.js';
import { confPath, PgBackRest, PgBackRestError, runAsFor, writeConf } from './pgbackrest.js';
import { RestoredCluster, restoreArgs } from './cluster.js';
import * as store from './store.js';
import * as say from '../templates/pitr.js';
import { PitrMessages, type Thread } from './messages.js';
import {
  archivingFailing, currentRpoMs, parseInfo, pgTimestamp, repoUnreachable, formatMs,
  type ArchiverStatus, type PhysicalBackup, type PhysicalBackupType, type PitrRun, type RecoveryReport, type RecoveryTarget, type StanzaInfo,
} from './model.js';

/**
 * The pitr area's use cases, one function each: set up, back up, list, status, verify, expire,
 * drill, recover, watch. Domain only: chat arrives as a narrow surface, paging as one function.
 */
export interface PitrDeps {
  config: PitrConfig;
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  /** Where ops notices go (name or id). */
  opsChannel: string;
  chat?: Pick<ChatSurface, 'post' | 'update' | 'findChannel'>;
  /** Pages ops with one dedup key per problem; absent when paging is off. */
  pageOps?: (p: { dedupKey: string; summary: string; severity: 'critical' | 'error' | 'warning' }) => Promise<unknown>;
  /** Aborted at shutdown: a running backup stops and is recorded as interrupted. */
  shutdownSignal: AbortSignal;
  /** The DR targets the drill report compares against. */
  rtoTargetMs: number;
  env?: NodeJS.ProcessEnv;
}

export class PitrUserError extends Error {}

export type { Thread };

export class Pitr {
  readonly pgbr: PgBackRest;
  private busy = new Set<string>();
  private confWritten: Promise<string> | undefined;
  private readonly messages: PitrMessages;

  constructor(readonly deps: PitrDeps) {
    this.messages = new PitrMessages(deps);
    this.pgbr = new PgBackRest(deps.config, deps.config.enabled ? runAsFor(deps.config) : undefined, deps.env);
  }

  get cfg(): PitrConfig {
    return this.deps.config;
  }

  get source(): store.ClusterAddress {
    const pg = this.cfg.pg;
    return { socketDir: pg.socketDir, port: pg.port, user: pg.user, database: pg.database };
  }

  /** (Re)renders pgbackrest.conf once per process before the first command. */
  private conf(): Promise<string> {
    this.confWritten ??= writeConf(this.cfg, this.pgbr.identity).catch((err: unknown) => {
      this.confWritten = undefined;
      throw err;
    });
    return this.confWritten;
  }

  private async run(args: string[], opts: { signal?: AbortSignal; onLine?: (l: string) => void } = {}) {
    await this.conf();
    return this.pgbr.run(args, opts);
  }

  /** `firebreak pitr setup`: renders the conf, returns the postgresql.conf lines, runs stanza-create and check. */
  async setup(): Promise<SetupResult> {
    return setupStanza(this.cfg, this.pgbr);
  }

  async info(): Promise<StanzaInfo> {
    const r = await this.run(['info', '--output=json', '--log-level-console=warn']);
    return parseInfo(r.stdout, this.cfg.stanza);
  }

  /** Physical backups, newest first, across repositories. */
  async list(): Promise<PhysicalBackup[]> {
    return (await this.info()).backups.sort((a, b) => b.stoppedAt.getTime() - a.stoppedAt.getTime() || a.repo - b.repo);
  }

  isRunning(): boolean {
    return this.busy.has('backup');
  }

  /**
   * One physical backup into every repository, one after the other (pgBackRest backs up to one
   * repository per run; WAL already goes to all). With a thread, a reply shows the phase and a
   * summary at the end. A failure is recorded, audited and told to ops once per stanza.
   */
  async backup(type: PhysicalBackupType, opts: { requestedBy: string; thread?: Thread; signal?: AbortSignal; onProgress?: (text: string) => void }): Promise<{ run: PitrRun; made: PhysicalBackup[] } | { busy: true }> {
    if (this.busy.has('backup')) return { busy: true };
    this.busy.add('backup');
    const { pool, clock } = this.deps;
    const thread = opts.thread;
    const tell = this.messages.threadReply(thread);
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.deps.shutdownSignal]) : this.deps.shutdownSignal;
    const run = await store.insertRun(pool, { kind: 'backup', detail: type, repo: null, requestedBy: opts.requestedBy, at: clock.now() });
    await this.audit('backup.physical.started', opts.requestedBy, `pitr:${run.id}`, { type, stanza: this.cfg.stanza });
    const repos = this.cfg.repos.length;
    const t0 = performance.now();
    const made: PhysicalBackup[] = [];
    let finished: PitrRun;
    try {
      for (let repo = 1; repo <= repos; repo++) {
        const before = new Set((await this.info()).backups.filter((b) => b.repo === repo).map((b) => b.label));
        const phase = (p: string) => {
          const m = say.physicalProgress(type, repo, repos, p, performance.now() - t0);
          opts.onProgress?.(m.text);
          tell(m);
        };
        phase('starting');
        await this.run([`--type=${type}`, `--repo=${repo}`, 'backup'], { signal, onLine: (l) => { const p = backupPhase(l); if (p) phase(p); } });
        const added = (await this.info()).backups.filter((b) => b.repo === repo && !before.has(b.label));
        made.push(...added);
      }
      finished = await store.finishRun(pool, run.id, { status: 'succeeded', at: clock.now(), result: { labels: made.map((b) => ({ repo: b.repo, label: b.label, type: b.type })) } });
      await this.audit('backup.physical.succeeded', opts.requestedBy, `pitr:${run.id}`, { type, labels: made.map((b) => `${b.repo}:${b.label}`), ms: Math.round(performance.now() - t0) });
      // Retention after every good backup (pgBackRest's own expire-auto is off so each expiry is audited).
      await this.expire(opts.requestedBy).catch((err: unknown) => this.deps.log.error({ err }, 'pgbackrest expire after a backup failed; the next backup retries'));
    } catch (err) {
      const interrupted = signal.aborted;
      finished = await store.finishRun(pool, run.id, { status: interrupted ? 'interrupted' : 'failed', at: clock.now(), error: (err as Error).message });
      await this.audit(`backup.physical.${interrupted ? 'interrupted' : 'failed'}`, opts.requestedBy, `pitr:${run.id}`, { type, error: (err as Error).message });
      if (!interrupted) await this.messages.alertOps(`pitr-backup-failed:${this.cfg.stanza}`, 'error', say.physicalSummary(finished, []));
    } finally {
      this.busy.delete('backup');
    }
    await tell(say.physicalSummary(finished, made), true);
    return { run: finished, made };
  }

  /** `/backup status`: archiving, current RPO against target, each repository and open problems. */
  async status(): Promise<say.StatusView> {
    const archiver: ArchiverStatus | { error: string } = await store.readArchiver(this.source).catch((err: unknown) => ({ error: (err as Error).message }));
    let info: StanzaInfo | undefined;
    let infoError: string | undefined;
    try {
      info = await this.info();
    } catch (err) {
      infoError = (err as Error).message;
    }
    const repos = (info?.repos ?? []).map((r) => ({ ...r, newest: info!.backups.filter((b) => b.repo === r.repo).sort((a, b) => b.stoppedAt.getTime() - a.stoppedAt.getTime())[0] }));
    return {
      stanza: this.cfg.stanza, archiver, rpoMs: 'error' in archiver ? null : currentRpoMs(archiver), rpoTargetMs: this.cfg.rpoTargetSeconds * 1000,
      repos, infoError, problems: await store.openProblems(this.deps.pool),
    };
  }

  /** `pgbackrest verify` on each repository. */
  async verify(requestedBy: string): Promise<{ ok: boolean; lines: string[] }> {
    const run = await store.insertRun(this.deps.pool, { kind: 'verify', detail: 'all', repo: null, requestedBy, at: this.deps.clock.now() });
    const lines: string[] = [];
    let ok = true;
    await this.conf();
    for (let repo = 1; repo <= this.cfg.repos.length; repo++) {
      const r = await this.pgbr.spawn([`--repo=${repo}`, '--log-level-console=info', 'verify'], { signal: this.deps.shutdownSignal });
      // pgBackRest 2.45 ends verify "completed successfully" (exit 0) even when it found invalid
      // files: the findings are in its summary (`status: error`, `backup: …, status: invalid`).
      const findings = r.stdout.split('\n').map((l) => l.replace(/^\S+ \S+ P\d+ +\w+: /, '').trim())
        .filter((l) => /status: (error|invalid)|invalid checksum|checksum invalid|missing|ERROR/i.test(l));
      const good = r.code === 0 && findings.length === 0;
      if (!good) ok = false;
      lines.push(good ? `repo${repo}: ok` : `repo${repo}: ${r.code === 0 ? 'problems found' : `exit ${r.code}`}: ${(findings.length ? findings : [r.stderr.trim()]).slice(0, 6).join('; ')}`);
    }
    await store.finishRun(this.deps.pool, run.id, { status: ok ? 'succeeded' : 'failed', at: this.deps.clock.now(), result: { lines } });
    await this.audit(`backup.physical.verify.${ok ? 'passed' : 'failed'}`, requestedBy, `pitr:${run.id}`, { lines });
    return { ok, lines };
  }

  /** Retention: `pgbackrest expire` on every repository; pgBackRest never removes the only full backup. */
  async expire(requestedBy: string): Promise<{ removed: string[] }> {
    const before = await this.list();
    const run = await store.insertRun(this.deps.pool, { kind: 'expire', detail: `full ${this.cfg.retention.full}, diff ${this.cfg.retention.diff}`, repo: null, requestedBy, at: this.deps.clock.now() });
    try {
      await this.run(['expire'], { signal: this.deps.shutdownSignal });
    } catch (err) {
      await store.finishRun(this.deps.pool, run.id, { status: 'failed', at: this.deps.clock.now(), error: (err as Error).message });
      throw err;
    }
    const after = new Set((await this.list()).map((b) => `${b.repo}:${b.label}`));
    const removed = before.map((b) => `${b.repo}:${b.label}`).filter((k) => !after.has(k));
    await store.finishRun(this.deps.pool, run.id, { status: 'succeeded', at: this.deps.clock.now(), result: { removed } });
    await this.audit('backup.physical.expired', requestedBy, `pitr:${run.id}`, { removed, retention: this.cfg.retention });
    return { removed };
  }

  /** Refuses a recovery point no backup in `repo` can reach, before anything is started. */
  async checkTarget(target: RecoveryTarget, repo: number): Promise<string | undefined> {
    if (repo < 1 || repo > this.cfg.repos.length) return `there is no repository ${repo}: ${this.cfg.repos.length} ${this.cfg.repos.length === 1 ? 'is' : 'are'} configured`;
    const backups = (await this.info()).backups.filter((b) => b.repo === repo);
    if (!backups.length) return `repository ${repo} has no backup to restore from yet: \`/backup now --physical full\` makes one`;
    if (target.kind === 'time') {
      // pgBackRest records stop times in whole seconds and needs a backup that stopped before the target.
      const oldest = Math.min(...backups.map((b) => b.stoppedAt.getTime()));
      if (target.at.getTime() < oldest + 1000) return `${pgTimestamp(target.at)} is not after the oldest backup in repository ${repo} (finished ${new Date(oldest).toISOString()}); choose a later time`;
    }
    return undefined;
  }

  /**
   * A drill (`/dr dry-run --to`): restore to the target into a scratch cluster, start it on a
   * free port, wait for promotion, validate, measure RTO and achieved RPO, drop it.
   * `recover` is the same into the configured recovery target, left running.
   */
  async drill(target: RecoveryTarget, opts: { repo: number; requestedBy: string; thread?: Thread; signal?: AbortSignal }): Promise<{ run: PitrRun; report?: RecoveryReport }> {
    return this.restoreFlow('drill', target, opts);
  }

  async recover(target: RecoveryTarget, opts: { repo: number; requestedBy: string; approvers: string[]; thread?: Thread; signal?: AbortSignal }): Promise<{ run: PitrRun; report?: RecoveryReport }> {
    return this.restoreFlow('recovery', target, opts);
  }

  private async restoreFlow(kind: 'drill' | 'recovery', target: RecoveryTarget, opts: { repo: number; requestedBy: string; approvers?: string[]; thread?: Thread; signal?: AbortSignal }) {
    const { pool, clock } = this.deps;
    const busyKey = 'restore';
    const detail = target.kind === 'latest' ? 'latest' : pgTimestamp(target.at);
    if (this.busy.has(busyKey)) throw new PitrUserError('a PITR drill or recovery is already running here; wait for its result');
    this.busy.add(busyKey);
    const tell = this.messages.threadReply(opts.thread);
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.deps.shutdownSignal]) : this.deps.shutdownSignal;
    const run = await store.insertRun(pool, { kind, detail, repo: opts.repo, requestedBy: opts.requestedBy, at: clock.now() });
    const eventBase = kind === 'drill' ? 'dr.pitr' : 'restore.pitr';
    await this.audit(`${eventBase}.started`, opts.requestedBy, `pitr:${run.id}`, { target: detail, repo: opts.repo, approvers: opts.approvers ?? [] });
    let cluster: RestoredCluster | undefined;
    try {
      await this.conf();
      // The archive must hold a commit after the target for recovery to know where to stop.
      if (target.kind === 'time') await this.coverTarget(target.at, signal, tell);
      cluster = kind === 'drill' ? await RestoredCluster.scratch(this.cfg, this.pgbr, `${this.cfg.stanza}-drill-${run.id}`) : await RestoredCluster.target(this.cfg, this.pgbr);
      if (kind === 'recovery' && (await cluster.running())) throw new PitrUserError(`a PostgreSQL server is running on the recovery target ${cluster.dataDir}; stop it first`);
      const delta = kind === 'recovery' && existsSync(path.join(cluster.dataDir, 'PG_VERSION'));
      const t0 = performance.now();
      tell(say.drillStep(`restoring from repo${opts.repo} into ${cluster.dataDir}`));
      await this.run(restoreArgs(target.kind === 'time' ? { kind: 'time', at: pgTimestamp(target.at) } : target, opts.repo, cluster.dataDir, { scratch: kind === 'drill', delta }), { signal });
      const restoreMs = performance.now() - t0;
      tell(say.drillStep(`restored in ${formatMs(restoreMs)}; replaying WAL on port ${cluster.port}`));
      await cluster.start(signal);
      const { lastReplayedAt } = await cluster.waitPromoted(signal);
      const checks = await store.validateRestored(cluster.address, this.cfg.smokeSql, this.cfg.countTables);
      const rtoMs = performance.now() - t0;
      let achievedRpoMs: number | null = null;
      if (lastReplayedAt && target.kind === 'time') achievedRpoMs = Math.max(0, target.at.getTime() - lastReplayedAt.getTime());
      const report: RecoveryReport = { target, repo: opts.repo, rtoMs, achievedRpoMs, lastReplayedAt, restoreMs, replayMs: rtoMs - restoreMs, ...checks };
      const failedSmoke = checks.smoke.filter((s) => !s.ok);
      if (failedSmoke.length) throw new Error(`smoke SQL failed on the restored cluster: ${failedSmoke.map((s) => `${s.sql}: ${s.error}`).join('; ')}`);
      const result = { rtoMs: Math.round(rtoMs), achievedRpoMs: achievedRpoMs === null ? null : Math.round(achievedRpoMs), lastReplayedAt, rowCounts: checks.rowCounts, port: cluster.port };
      const finished = await store.finishRun(pool, run.id, { status: 'succeeded', at: clock.now(), result });
      await this.audit(`${eventBase}.passed`, opts.requestedBy, `pitr:${run.id}`, { target: detail, repo: opts.repo, ...result });
      await tell(say.drillResult(finished, report, this.deps.rtoTargetMs, this.cfg.rpoTargetSeconds * 1000), true);
      return { run: finished, report };
    } catch (err) {
      const interrupted = signal.aborted;
      const finished = await store.finishRun(pool, run.id, { status: interrupted ? 'interrupted' : 'failed', at: clock.now(), error: (err as Error).message });
      await this.audit(`${eventBase}.${interrupted ? 'interrupted' : 'failed'}`, opts.requestedBy, `pitr:${run.id}`, { target: detail, repo: opts.repo, error: (err as Error).message });
      await tell(say.drillResult(finished, undefined, this.deps.rtoTargetMs, this.cfg.rpoTargetSeconds * 1000), true);
      return { run: finished };
    } finally {
      if (kind === 'drill') await cluster?.drop().catch((err: unknown) => this.deps.log.error({ err }, 'could not remove a drill scratch cluster'));
      this.busy.delete(busyKey);
    }
  }

  /**
   * When the target is later than the last archived WAL, seals the current segment (a commit,
   * then a switch) on the protected cluster and waits until it is archived.
   */
  private async coverTarget(at: Date, signal: AbortSignal, tell: (m: ChatMessage) => void): Promise<void> {
    let s: ArchiverStatus;
    try {
      s = await store.readArchiver(this.source);
    } catch {
      return; // The source may be the very thing that is gone: restore from what the archive has.
    }
    if (s.lastArchivedAt && s.lastArchivedAt.getTime() > at.getTime() && s.unarchivedBytes > 0) return;
    if (at.getTime() > s.serverNow.getTime()) throw new PitrUserError(`${pgTimestamp(at)} is in the future (the database's clock reads ${s.serverNow.toISOString()})`);
    tell(say.drillStep('sealing the current WAL segment so the archive covers the target'));
    const wal = await store.sealWal(this.source);
    for (const started = performance.now(); ; ) {
      const now = await store.readArchiver(this.source);
      if (now.lastArchivedWal && now.lastArchivedWal.slice(0, 24) >= wal) return;
      if (archivingFailing(now) && now.lastFailedWal?.slice(0, 24) === wal) throw new Error(`WAL segment ${wal} could not be archived (archive_command is failing): the target is not covered`);
      if (performance.now() - started > 120_000) throw new Error(`WAL segment ${wal} was not archived within 2 min`);
      await sleep(200, undefined, { signal });
    }
  }

  /**
   * The watch: archiving failing, RPO over target for N minutes, stale physical backups,
   * unreachable repositories. One problem row per problem: alerted once, cleared once.
   */
  async watch(): Promise<string[]> {
    const now = this.deps.clock.now();
    const stanza = this.cfg.stanza;
    const found = new Map<string, { detail: string; severity: 'critical' | 'error'; afterMs: number }>();
    let archiver: ArchiverStatus | undefined;
    try {
      archiver = await store.readArchiver(this.source);
    } catch (err) {
      found.set(`pitr-archive-failing:${stanza}`, { detail: `cannot read pg_stat_archiver on the protected cluster: ${(err as Error).message}`, severity: 'critical', afterMs: 0 });
    }
    if (archiver && archivingFailing(archiver)) {
      found.set(`pitr-archive-failing:${stanza}`, {
        detail: `WAL archiving is failing: ${archiver.failedCount} failed attempts, last ${archiver.lastFailedWal ?? '?'} at ${archiver.lastFailedAt?.toISOString()}; last success ${archiver.lastArchivedWal ?? 'never'}`,
        severity: 'critical', afterMs: 0,
      });
    }
    const rpo = archiver ? currentRpoMs(archiver) : null;
    if (archiver && rpo !== null && rpo > this.cfg.rpoTargetSeconds * 1000) {
      found.set(`pitr-rpo:${stanza}`, { detail: `current RPO ${formatMs(rpo)} is over the ${formatMs(this.cfg.rpoTargetSeconds * 1000)} target`, severity: 'error', afterMs: this.cfg.rpoAlertAfterMinutes * 60_000 });
    }
    try {
      const info = await this.info();
      for (let repo = 1; repo <= this.cfg.repos.length; repo++) {
        const r = info.repos.find((x) => x.repo === repo);
        if (!r || repoUnreachable(r)) {
          found.set(`pitr-repo-unreachable:${stanza}:repo${repo}`, { detail: `repository ${repo}: ${r ? r.message : 'missing from pgbackrest info'}`, severity: 'critical', afterMs: 0 });
          continue;
        }
        const newest = info.backups.filter((b) => b.repo === repo).reduce<Date | undefined>((m, b) => (!m || b.stoppedAt > m ? b.stoppedAt : m), undefined);
        const limit = this.cfg.staleAfterHours * 3_600_000;
        if (!newest || now.getTime() - newest.getTime() > limit) {
          // Without any backup yet, the problem row's first sighting starts the clock.
          found.set(`pitr-stale:${stanza}:repo${repo}`, { detail: `repository ${repo}: newest physical backup ${newest ? newest.toISOString() : 'none'}, older than ${this.cfg.staleAfterHours} h`, severity: 'error', afterMs: newest ? 0 : limit });
        }
      }
    } catch (err) {
      for (let repo = 1; repo <= this.cfg.repos.length; repo++) {
        found.set(`pitr-repo-unreachable:${stanza}:repo${repo}`, { detail: `pgbackrest info failed: ${(err as Error).message}`, severity: 'critical', afterMs: 0 });
      }
    }
    const alerted: string[] = [];
    for (const [key, p] of found) {
      const open = await store.openProblem(this.deps.pool, key, now, p.detail);
      if (open.alertedAt || now.getTime() - open.firstSeenAt.getTime() < p.afterMs) continue;
      if (!(await store.claimAlert(this.deps.pool, key, now))) continue;
      await this.messages.alertOps(key, p.severity, say.problemAlert(key, p.detail));
      await this.audit('backup.physical.problem', 'firebreak', key, { detail: p.detail });
      alerted.push(key);
    }
    for (const p of await store.openProblems(this.deps.pool)) {
      if (found.has(p.key)) continue;
      const closed = await store.closeProblem(this.deps.pool, p.key);
      if (closed?.alerted) await this.messages.postOps(say.problemCleared(p.key));
    }
    return alerted;
  }

  /**
   * Runs left 'running' by a dead process are interrupted, never good. Another replica may be
   * running one right now, so only runs older than any backup or drill takes here (12 h) count.
   */
  async recoverOrphans(): Promise<void> {
    const now = this.deps.clock.now();
    await store.interruptOrphans(this.deps.pool, now, new Date(now.getTime() - 12 * 3_600_000));
  }

  private async audit(type: string, actor: string, subject: string, payload: Record<string, unknown>): Promise<void> {
    await store.recordEvent(this.deps.pool, { type, actor, subject, at: this.deps.clock.now(), payload: { stanza: this.cfg.stanza, ...payload } })
      .catch((err: unknown) => this.deps.log.warn({ err, type }, 'could not record a PITR audit event'));
  }
}

export interface SetupResult {
  conf: string;
  postgresqlConf: string[];
  stanzaCreate: string;
  check: string;
}

/**
 * `firebreak pitr setup`: renders pgbackrest.conf, then stanza-create and check (which needs
 * archiving already on: it pushes a WAL segment to every repository). Needs no Firebreak database.
 */
export async function setupStanza(cfg: PitrConfig, pgbr: PgBackRest = new PgBackRest(cfg, runAsFor(cfg))): Promise<SetupResult> {
  const conf = await writeConf(cfg, pgbr.identity);
  const postgresqlConf = say.postgresqlConfLines(cfg.stanza, conf, cfg.archiveTimeoutSeconds);
  const created = await pgbr.run(['stanza-create']);
  const checked = await pgbr.run(['check']);
  const last = (s: string) => s.trim().split('\n').pop() ?? '';
  return { conf, postgresqlConf, stanzaCreate: last(created.stdout), check: last(checked.stdout) };
}

/** The phase a pgBackRest console line announces, if any (for the progress thread). */
export function backupPhase(line: string): string | undefined {
  if (/backup start archive/.test(line)) return 'copying files';
  if (/execute non-exclusive backup start/.test(line)) return 'waiting for the checkpoint';
  if (/backup stop archive/.test(line)) return 'waiting for the last WAL segment to be archived';
  if (/new backup label/.test(line)) return 'writing the manifest';
  if (/expire command begin/.test(line)) return 'applying retention';
  return undefined;
}

export { PgBackRestError, confPath };
