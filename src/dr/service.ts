import { scheduleExistsSince } from '../jobs/scheduler.js';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { AppContext } from '../context.js';
import type { ChangeGate } from '../approvals/gate.js';
import type { ChatMessage } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import { drDrills, drLastDrillSucceeded, drLastRpoSeconds, drLastRtoSeconds } from '../ops/metrics.js';
import type { BackupSource, DrBackupRecord } from './backup-source.js';
import { Drill, SHUTDOWN, dropScratchDatabase, type DrillOutcome } from './drill.js';
import {
  DR_DRY_RUN_KIND, DR_EXECUTE_KIND, DrError, formatDuration, isScratchDatabaseName, scratchDatabaseName, stepsFor,
  type DrKind, type DrRun, type DrTargets, type DrTrigger,
} from './model.js';
import * as store from './store.js';
import * as view from '../templates/dr.js';

/** What drills need from the app: AppContext fits, and so does the CLI's smaller context. */
export type DrContext = Pick<AppContext, 'config' | 'pool' | 'clock' | 'log' | 'chat' | 'background' | 'replicaId' | 'shutdownSignal'>;

/** Arbitrary constant: the session advisory lock that lets only one drill run across replicas. */
export const DRILL_LOCK = 727_050;

export interface DrillRequest {
  kind: DrKind;
  trigger?: DrTrigger;
  backupId?: string;
  /** Execute only: the database to recover into. */
  targetDatabase?: string;
  requester: string;
  approvers?: string[];
  changeRequestId?: number | null;
  /** Where the drill's thread goes (id or name); unset or unknown = dr.channel, else the ops channel. */
  channel?: string;
}

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
      const got = await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [DRILL_LOCK]);
      if (!got.rows[0]!.ok) return { status: 'busy', running: await this.running() };
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
        await lockClient.query('SELECT pg_advisory_unlock($1)', [DRILL_LOCK]).catch(() => {});
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
      const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [DRILL_LOCK]);
      if (!got.rows[0]!.ok) return;
      try {
        await this.cleanUpOrphans();
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [DRILL_LOCK]);
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

  async alertOps(message: ChatMessage): Promise<void> {
    try {
      const ch = await this.ctx.chat.findChannel(this.ctx.config.ops.channel);
      if (!ch) throw new Error(`ops channel ${this.ctx.config.ops.channel} not found`);
      await this.ctx.chat.post(ch.id, message);
    } catch (err) {
      this.ctx.log.error({ err }, 'could not alert the ops channel about a drill');
    }
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

  private async execute(run: DrRun, req: DrillRequest, controller: AbortController, lockClient: pg.PoolClient): Promise<DrRun> {
    const chat = new DrillThread(this.ctx, run, req.channel);
    const onShutdown = () => controller.abort(SHUTDOWN);
    this.ctx.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
    const poll = setInterval(() => {
      store.cancelRequestedBy(this.ctx.pool, run.id).then(
        (by) => by && controller.abort(),
        () => {},
      );
    }, 1000);
    poll.unref();
    let outcome: DrillOutcome | undefined;
    let crash: Error | undefined;
    try {
      await chat.open();
      const drill = new Drill(
        {
          config: this.config, clock: this.ctx.clock, log: this.ctx.log, source: this.source, statePool: this.ctx.pool,
          pgBinDir: this.ctx.config.backups.pgBinDir,
        },
        {
          runId: run.id, kind: run.kind, backupId: req.backupId, database: this.config.database,
          serverUrl: await this.serverFor(run, req),
          targetDatabase: req.targetDatabase, stateDatabaseUrl: this.ctx.config.databaseUrl, workDir: this.workDir(),
          targets: run.targets,
        },
        controller.signal,
        async (steps, info) => {
          run.steps = steps;
          if (info.backup) {
            run.backupId = info.backup.id;
            run.database = info.backup.database;
          }
          await store.updateRun(this.ctx.pool, run.id, { steps, backupId: run.backupId ?? undefined, database: run.database ?? undefined });
          await chat.steps(run);
        },
      );
      outcome = await drill.run();
    } catch (err) {
      crash = err as Error;
      this.ctx.log.error({ err, run: run.id }, 'dr run failed outside its steps');
    } finally {
      clearInterval(poll);
      this.ctx.shutdownSignal.removeEventListener('abort', onShutdown);
      this.active.delete(run.id);
    }
    const stopped = controller.signal.aborted ? (controller.signal.reason === SHUTDOWN ? 'interrupted' : 'cancelled') : undefined;
    const status = outcome?.status ?? stopped ?? 'failed';
    const error = outcome?.error ?? (crash ? `unexpected error: ${crash.message}` : null);
    try {
      await store.updateRun(this.ctx.pool, run.id, {
        status, steps: outcome?.steps ?? run.steps, rtoMs: outcome?.verdict.rtoMs ?? undefined, rpoMs: outcome?.verdict.rpoMs ?? undefined,
        error: error ?? undefined, finishedAt: this.ctx.clock.now(),
      });
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1)', [DRILL_LOCK]).catch(() => {});
      lockClient.release();
    }
    const final = (await store.getRun(this.ctx.pool, run.id)) ?? { ...run, status, error };
    this.record(final);
    await appendEvent(this.ctx.pool, {
      type: `dr.${status}`,
      actor: status === 'cancelled' ? (final.cancelRequestedBy ?? req.requester) : 'firebreak',
      at: this.ctx.clock.now(), subject: `dr:${run.id}`,
      payload: {
        kind: run.kind, backupId: final.backupId, target: final.targetDatabase, rtoMs: final.rtoMs, rpoMs: final.rpoMs, error: final.error,
        rtoMet: outcome?.verdict.rtoMet ?? null, rpoMet: outcome?.verdict.rpoMet ?? null,
        failedStep: final.steps.find((s) => s.status === 'failed')?.n ?? null,
      },
    }).catch((err: unknown) => this.ctx.log.error({ err, run: run.id }, 'could not record the end of a drill'));
    await chat.finish(final, outcome);
    if (final.trigger === 'schedule' && status !== 'passed') await this.alertOps(view.scheduledDrillFailed(final));
    return final;
  }

  private record(run: DrRun): void {
    const target = run.database ?? this.config.database ?? 'unknown';
    const outcome = run.status === 'passed' ? 'succeeded' : run.status === 'failed' ? 'failed' : 'interrupted';
    drDrills.inc({ target, mode: run.kind, outcome });
    drLastDrillSucceeded.set({ target }, run.status === 'passed' ? 1 : 0);
    if (run.rtoMs !== null) drLastRtoSeconds.set({ target }, run.rtoMs / 1000);
    if (run.rpoMs !== null) drLastRpoSeconds.set({ target }, run.rpoMs / 1000);
  }
}

/**
 * The drill's messages: a headline in the channel (status, Cancel button), the ten steps in
 * its thread updated in place, and the report posted to the channel at the end. Chat failures
 * are logged and never stop a recovery.
 */
class DrillThread {
  private channel: string | undefined;
  private headTs: string | undefined;
  private stepsTs: string | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private ctx: DrContext,
    private run: DrRun,
    private where: string | undefined,
  ) {}

  private async safe(label: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.ctx.log.warn({ err, run: this.run.id, op: label }, 'dr chat update failed');
    }
  }

  private async resolveChannel(): Promise<string | undefined> {
    const fallback = this.ctx.config.dr.channel ?? this.ctx.config.ops.channel;
    for (const name of [this.where, fallback]) {
      if (!name) continue;
      const ch = await this.ctx.chat.findChannel(name).catch(() => undefined);
      if (ch) return ch.id;
    }
    throw new Error(`no channel to post the drill in (tried ${[this.where, fallback].filter(Boolean).join(', ')})`);
  }

  async open(): Promise<void> {
    await this.safe('open', async () => {
      this.channel = await this.resolveChannel();
      if (!this.channel) return;
      const head = await this.ctx.chat.post(this.channel, view.drillHeadline(this.run));
      this.headTs = head.ts;
      const steps = await this.ctx.chat.post(this.channel, view.drillSteps(this.run), { threadTs: head.ts });
      this.stepsTs = steps.ts;
      await store.updateRun(this.ctx.pool, this.run.id, { channelId: this.channel, messageTs: head.ts, threadTs: steps.ts });
    });
  }

  /** Serialised so updates land in order even when steps finish quickly. */
  steps(run: DrRun): Promise<void> {
    const snapshot = { ...run, steps: run.steps.map((s) => ({ ...s })) };
    this.queue = this.queue.then(() =>
      this.safe('steps', async () => {
        if (this.channel && this.stepsTs) await this.ctx.chat.update(this.channel, this.stepsTs, view.drillSteps(snapshot));
      }),
    );
    return this.queue;
  }

  async finish(run: DrRun, outcome: DrillOutcome | undefined): Promise<void> {
    await this.queue;
    if (!this.channel) return;
    await this.safe('finish', async () => {
      if (this.stepsTs) await this.ctx.chat.update(this.channel!, this.stepsTs, view.drillSteps(run));
      if (this.headTs) await this.ctx.chat.update(this.channel!, this.headTs, view.drillHeadline(run));
      await this.ctx.chat.post(this.channel!, view.drillReport(run, outcome?.switchTraffic));
    });
  }
}
