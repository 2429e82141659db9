import { scheduleExistsSince } from '../jobs/scheduler.js';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { ChangeGate } from '../approvals/gate.js';
import type { ChatMessage } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import type { BackupSource, DrBackupRecord } from './backup-source.js';
import { SHUTDOWN, dropScratchDatabase } from './drill.js';
import {
  DR_DRY_RUN_KIND, DR_EXECUTE_KIND, DrError, formatDuration, isScratchDatabaseName, scratchDatabaseName, stepsFor,
  type DrRun, type DrTargets,
} from './model.js';
import * as store from './store.js';
import type { DrContext, DrillRequest } from './context.js';
import { alertOps } from './messages.js';
import { runDrill } from './run-drill.js';
import * as view from '../templates/dr.js';

export type { DrContext, DrillRequest } from './context.js';

export type StartResult =
  | { status: 'started'; run: DrRun; done: Promise<DrRun> }
  | { status: 'busy'; running: DrRun | undefined }
  | { status: 'refused'; message: string };

const serverOf = (url: string): string => {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
};

/**
 * Disaster-recovery drills and recoveries as use cases: start one (one at a time across all
 * replicas, under a PostgreSQL advisory lock held for the whole run), follow it, cancel it,
 * list past runs, and the scheduled drill.
 */
export class DrService {
  /** Runs on this replica, for an immediate cancel; other replicas' runs are cancelled through the row. */
  private active = new Map<number, AbortController>();
  private finishing = new Map<number, Promise<DrRun>>();

  constructor(
    private ctx: DrContext,
    private source: BackupSource,
    /** Who may stop a run is the change gate's decision (the CLI's host operator always may). */
    private stopGate: Pick<ChangeGate, 'authorizeStop'>,
  ) {}

  get config() {
    return this.ctx.config.dr;
  }

  targets(): DrTargets {
    const t = this.config.targets;
    return { rpoMs: t.rpoMinutes * 60_000, rtoMs: t.rtoMinutes * 60_000, stretchRpoMs: t.stretchRpoMinutes * 60_000, stretchRtoMs: t.stretchRtoMinutes * 60_000 };
  }

  /**
   * Where dry runs create firebreak_dr_<n>: dr.scratchDatabaseUrl, else Firebreak's own server.
   * Never the backed-up server by default, so a drill adds no load to production.
   */
  scratchServerUrl(): string {
    const url = this.config.scratchDatabaseUrl ?? this.ctx.config.databaseUrl;
    if (!url) throw new DrError('no server for the scratch database: set dr.scratchDatabaseUrl (DR_SCRATCH_DATABASE_URL)');
    return url;
  }

  /**
   * Where `/dr execute` recovers to: dr.targetServerUrl, else the server of the backed-up
   * database the backup came from (backups.databases), else Firebreak's own server (which is
   * what backups back up when no database is configured).
   */
  targetServerUrl(database?: string | null): string {
    if (this.config.targetServerUrl) return this.config.targetServerUrl;
    const backedUp = this.ctx.config.backups.databases.find((d) => d.name === database);
    if (backedUp) return serverOf(backedUp.url);
    if (this.ctx.config.databaseUrl) return this.ctx.config.databaseUrl;
    throw new DrError('no server to recover onto: set dr.targetServerUrl (DR_TARGET_SERVER_URL)');
  }

  workDir(): string {
    return this.config.workDir ?? path.join(os.tmpdir(), 'firebreak-dr');
  }

  async running(): Promise<DrRun | undefined> {
    return store.runningRun(this.ctx.pool);
  }

  async history(limit = 10): Promise<DrRun[]> {
    return store.recentRuns(this.ctx.pool, limit);
  }

  async get(id: number): Promise<DrRun | undefined> {
    return store.getRun(this.ctx.pool, id);
  }

  /** A backup as the drill sees it, so a command can refuse an unknown id before asking approvers. */
  async findBackup(id: string): Promise<DrBackupRecord | undefined> {
    return this.source.getBackup(id);
  }

  /** The backup a dry run without an id would take, so approvers see exactly which one. */
  async newestVerifiedBackup(): Promise<DrBackupRecord | undefined> {
    return this.source.latestVerifiedBackup();
  }

  /**
   * Starts a run if no other is running anywhere; otherwise says which one is. Resolves as
   * soon as the run is recorded; `done` settles when it finishes (never rejects).
   */
  async start(req: DrillRequest): Promise<StartResult> {
    if (req.kind === 'execute' && (!req.targetDatabase || !req.backupId)) {
      return { status: 'refused', message: 'a recovery names its backup and its target database (`/dr execute <backup-id> --target <db>`)' };
    }
    if (this.ctx.shutdownSignal.aborted) return { status: 'refused', message: 'Firebreak is shutting down; start the drill again once it is back' };
    const lockClient = await this.ctx.pool.connect();
    let handedOver = false;
    try {
      if (!(await store.tryLockDrills(lockClient))) return { status: 'busy', running: await this.running() };
      await this.cleanUpOrphans();
      const run = await store.insertRun(this.ctx.pool, {
        kind: req.kind, trigger: req.trigger ?? 'command', backupId: req.backupId ?? null, requester: req.requester,
        approvers: req.approvers ?? [], changeRequestId: req.changeRequestId ?? null,
        targetDatabase: req.kind === 'execute' ? req.targetDatabase! : null,
        steps: stepsFor(req.kind).map((d, i) => ({ n: i + 1, key: d.key, title: d.title, status: 'pending' })),
        targets: this.targets(), channelId: null, replicaId: this.ctx.replicaId, startedAt: this.ctx.clock.now(),
      });
      if (run.kind === 'dry-run') {
        run.targetDatabase = scratchDatabaseName(run.id);
        await store.updateRun(this.ctx.pool, run.id, { targetDatabase: run.targetDatabase });
      }
      await appendEvent(this.ctx.pool, {
        type: 'dr.started', actor: req.requester, at: this.ctx.clock.now(), subject: `dr:${run.id}`,
        payload: { kind: run.kind, trigger: run.trigger, backupId: run.backupId, target: run.targetDatabase, approvers: run.approvers, changeRequestId: run.changeRequestId },
      });
      const controller = new AbortController();
      this.active.set(run.id, controller);
      handedOver = true;
      const done = this.execute(run, req, controller, lockClient);
      this.finishing.set(run.id, done);
      void done.finally(() => this.finishing.delete(run.id));
      // Tracked as background work so shutdown drains it and tests can wait for it.
      this.ctx.background.run(`dr:${run.id}`, async () => {
        await done;
      });
      return { status: 'started', run, done };
    } finally {
      if (!handedOver) {
        await store.unlockDrills(lockClient).catch(() => {});
        lockClient.release();
      }
    }
  }

  /** Asks the running drill to stop; on another replica it notices within a second. */
  async cancel(actor: string): Promise<{ status: 'cancelling'; run: DrRun } | { status: 'idle' } | { status: 'refused'; run: DrRun; message: string }> {
    const run = await this.running();
    if (!run) return { status: 'idle' };
    // A run that needed approvals to start must not be stoppable by anyone: the gate decides who may.
    const stop = { kind: run.kind === 'execute' ? DR_EXECUTE_KIND : DR_DRY_RUN_KIND, requester: run.requester, subject: `dr:${run.id}`, what: `cancel ${view.runLabel(run)}` };
    const decision = await this.stopGate.authorizeStop(stop, actor);
    if (!decision.allowed) return { status: 'refused', run, message: decision.message };
    const marked = await store.requestCancel(this.ctx.pool, run.id, actor, this.ctx.clock.now());
    this.active.get(run.id)?.abort();
    if (marked) {
      await appendEvent(this.ctx.pool, { type: 'dr.cancel_requested', actor, at: this.ctx.clock.now(), subject: `dr:${run.id}`, payload: {} });
    }
    return { status: 'cancelling', run };
  }

  /** Waits for a run started on this replica; undefined when none is in flight here. */
  async waitFor(id: number): Promise<DrRun | undefined> {
    return this.finishing.get(id);
  }

  /**
   * Shutdown: a drill cannot outlive its replica (the lock goes with the connection), so
   * local runs are interrupted and waited for; interrupting still drops their scratch databases.
   */
  async stop(): Promise<void> {
    const waits = [...this.finishing.values()];
    for (const c of this.active.values()) c.abort(SHUTDOWN);
    await Promise.allSettled(waits);
  }

  /** At start: runs left 'running' by a replica that died are closed, if no drill runs now. */
  async recoverOrphans(): Promise<void> {
    const c = await this.ctx.pool.connect();
    try {
      if (!(await store.tryLockDrills(c))) return;
      try {
        await this.cleanUpOrphans();
      } finally {
        await store.unlockDrills(c);
      }
    } finally {
      c.release();
    }
  }

  /**
   * The scheduled drill's slot: starts a dry run of the newest verified backup and returns
   * without waiting for it, so a long drill never outlives the slot job's claim and gets run
   * twice. Anything but a pass alerts the ops channel.
   */
  async scheduledDrill(slot: Date): Promise<DrRun | undefined> {
    let r: StartResult;
    try {
      r = await this.start({ kind: 'dry-run', trigger: 'schedule', requester: 'firebreak-scheduler', channel: this.config.channel });
    } catch (err) {
      await this.alertOps(view.drillMissed(`the drill scheduled for ${slot.toISOString()} could not start: ${(err as Error).message}`));
      throw err;
    }
    if (r.status !== 'started') {
      const why = r.status === 'busy' ? view.busyMessage(r.running).text : r.message;
      await this.alertOps(view.drillMissed(`the drill scheduled for ${slot.toISOString()} did not start: ${why}`));
      return undefined;
    }
    // A failed or interrupted scheduled drill alerts the ops channel as it finishes (execute()).
    return r.run;
  }

  /** Daily: says so in the ops channel when no dry run has started for longer than the limit. */
  async checkOverdue(): Promise<boolean> {
    const last = await store.lastDryRunStartedAt(this.ctx.pool);
    const limitMs = this.config.schedule.overdueAfterDays * 86_400_000;
    const now = this.ctx.clock.now().getTime();
    if (last && now - last.getTime() <= limitMs) return false;
    // Never run: overdue only once the drill schedule has existed for a whole limit.
    if (!last) {
      const since = await scheduleExistsSince(this.ctx.pool, 'dr:drill');
      if (!since || now - since.getTime() <= limitMs) return false;
    }
    await this.alertOps(view.drillMissed(last
      ? `no DR dry run for ${formatDuration(now - last.getTime())} (limit ${this.config.schedule.overdueAfterDays} days); the RTO is unproven. Run \`/dr dry-run\`.`
      : `no DR dry run has run since drills were scheduled over ${this.config.schedule.overdueAfterDays} days ago, so the RTO is unproven. Run \`/dr dry-run\`.`));
    return true;
  }

  alertOps(message: ChatMessage): Promise<void> {
    return alertOps(this.ctx, message);
  }

  /** Called with the lock held: anything still 'running' belongs to a dead replica. */
  private async cleanUpOrphans(): Promise<void> {
    const orphans = await store.markOrphansInterrupted(this.ctx.pool, this.ctx.clock.now());
    for (const o of orphans) {
      await appendEvent(this.ctx.pool, { type: 'dr.interrupted', actor: 'firebreak', at: this.ctx.clock.now(), subject: `dr:${o.id}`, payload: { kind: o.kind } });
      const scratch = o.kind === 'dry-run' ? scratchDatabaseName(o.id) : undefined;
      if (scratch && isScratchDatabaseName(scratch)) {
        await dropScratchDatabase(this.scratchServerUrl(), scratch).catch((err: unknown) =>
          this.ctx.log.warn({ err, run: o.id }, 'could not drop an interrupted drill scratch database'),
        );
      }
    }
  }

  private async serverFor(run: DrRun, req: DrillRequest): Promise<string> {
    if (run.kind === 'dry-run') return this.scratchServerUrl();
    const backup = req.backupId ? await this.source.getBackup(req.backupId).catch(() => undefined) : undefined;
    return this.targetServerUrl(backup?.database);
  }

  private execute(run: DrRun, req: DrillRequest, controller: AbortController, lockClient: pg.PoolClient): Promise<DrRun> {
    return runDrill(
      { ctx: this.ctx, source: this.source, serverUrl: () => this.serverFor(run, req), workDir: this.workDir(), alertOps: (m) => this.alertOps(m) },
      run, req, controller, lockClient,
      () => this.active.delete(run.id),
    );
  }

}
