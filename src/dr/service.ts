import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { AppContext } from '../module.js';
import { appendEvent } from '../events/log.js';
import type { BackupSource } from './backup-source.js';
import { Drill, dropScratchDatabase, type DrillOutcome } from './drill.js';
import {
  DrError, isScratchDatabaseName, scratchDatabaseName, stepsFor, type DrKind, type DrRun, type DrTargets, type DrTrigger,
} from './model.js';
import * as store from './store.js';
import * as view from '../templates/dr.js';

/** Arbitrary constant: the session advisory lock that lets only one drill run across replicas. */
export const DRILL_LOCK = 727_050;

export interface DrillRequest {
  kind: DrKind;
  trigger?: DrTrigger;
  backupId?: string;
  /** Execute only: the database to recover into, on dr.targetServerUrl. */
  targetDatabase?: string;
  requester: string;
  approvers?: string[];
  changeRequestId?: number | null;
  /** Where the drill's thread goes (id or name); unset = dr.channel or the ops channel. */
  channel?: string;
}

export type StartResult =
  | { status: 'started'; run: DrRun; done: Promise<DrRun> }
  | { status: 'busy'; running: DrRun | undefined };

/**
 * Disaster-recovery drills and recoveries as use cases: start one (one at a time across all
 * replicas, under a PostgreSQL advisory lock), follow it, cancel it, list past runs.
 */
export class DrService {
  /** Runs on this replica, for an immediate cancel; other replicas' runs are cancelled through the row. */
  private active = new Map<number, AbortController>();

  constructor(
    private ctx: AppContext,
    private source: BackupSource,
  ) {}

  get config() {
    return this.ctx.config.dr;
  }

  targets(): DrTargets {
    const t = this.config.targets;
    return { rpoMs: t.rpoMinutes * 60_000, rtoMs: t.rtoMinutes * 60_000, stretchRpoMs: t.stretchRpoMinutes * 60_000, stretchRtoMs: t.stretchRtoMinutes * 60_000 };
  }

  /** The admin URL dry runs create scratch databases on: configured, else the backed-up server, else our own. */
  scratchServerUrl(): string {
    const url = this.config.scratchDatabaseUrl ?? backedUpServerUrl(this.ctx) ?? this.ctx.config.databaseUrl;
    if (!url) throw new DrError('no server for the scratch database: set dr.scratchDatabaseUrl (DR_SCRATCH_DATABASE_URL)');
    return url;
  }

  targetServerUrl(): string {
    return this.config.targetServerUrl ?? this.scratchServerUrl();
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

  /**
   * Starts a run if no other is running anywhere; otherwise says which one is. Resolves as
   * soon as the run is recorded; `done` settles when it finishes (never rejects).
   */
  async start(req: DrillRequest): Promise<StartResult> {
    if (req.kind === 'execute' && !req.targetDatabase) throw new DrError('a recovery needs a target database (--target <db>)');
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
      if (run.kind === 'dry-run') await store.updateRun(this.ctx.pool, run.id, { targetDatabase: scratchDatabaseName(run.id) });
      await appendEvent(this.ctx.pool, {
        type: 'dr.started', actor: req.requester, at: this.ctx.clock.now(), subject: `dr:${run.id}`,
        payload: { kind: run.kind, trigger: run.trigger, backupId: run.backupId, target: req.targetDatabase ?? null, approvers: run.approvers, changeRequestId: run.changeRequestId },
      });
      const controller = new AbortController();
      this.active.set(run.id, controller);
      handedOver = true;
      const done = this.execute(run, req, controller, lockClient);
      this.finishing.set(run.id, done);
      void done.finally(() => this.finishing.delete(run.id));
      return { status: 'started', run, done };
    } finally {
      if (!handedOver) {
        await lockClient.query('SELECT pg_advisory_unlock($1)', [DRILL_LOCK]).catch(() => {});
        lockClient.release();
      }
    }
  }

  /** Asks the running drill to stop; on another replica it notices within a second. */
  async cancel(actor: string): Promise<{ status: 'cancelling'; run: DrRun } | { status: 'idle' }> {
    const run = await this.running();
    if (!run) return { status: 'idle' };
    const marked = await store.requestCancel(this.ctx.pool, run.id, actor, this.ctx.clock.now());
    this.active.get(run.id)?.abort();
    if (marked) {
      await appendEvent(this.ctx.pool, { type: 'dr.cancel_requested', actor, at: this.ctx.clock.now(), subject: `dr:${run.id}`, payload: {} });
    }
    return { status: 'cancelling', run };
  }

  /**
   * Shutdown: a drill cannot outlive its replica (the lock goes with the connection), so
   * local runs are cancelled and waited for, which drops their scratch databases.
   */
  async stop(): Promise<void> {
    const waits = [...this.finishing.values()];
    for (const c of this.active.values()) c.abort();
    await Promise.allSettled(waits);
  }

  private finishing = new Map<number, Promise<DrRun>>();

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

  private async execute(run: DrRun, req: DrillRequest, controller: AbortController, lockClient: pg.PoolClient): Promise<DrRun> {
    const chat = new DrillThread(this.ctx, run, req.channel);
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
        { config: this.config, clock: this.ctx.clock, log: this.ctx.log, source: this.source, statePool: this.ctx.pool },
        {
          runId: run.id, kind: run.kind, backupId: req.backupId, database: this.config.database,
          serverUrl: run.kind === 'dry-run' ? this.scratchServerUrl() : this.targetServerUrl(),
          targetDatabase: req.targetDatabase, stateDatabaseUrl: this.ctx.config.databaseUrl, workDir: this.workDir(),
          targets: run.targets,
        },
        controller.signal,
        async (steps, info) => {
          run.steps = steps;
          if (info.backup) run.backupId = info.backup.id;
          await store.updateRun(this.ctx.pool, run.id, { steps, backupId: run.backupId ?? undefined, database: info.backup?.database });
          await chat.steps(run);
        },
      );
      outcome = await drill.run();
    } catch (err) {
      crash = err as Error;
      this.ctx.log.error({ err, run: run.id }, 'dr run failed outside its steps');
    } finally {
      clearInterval(poll);
      this.active.delete(run.id);
    }
    const status = outcome?.status ?? (controller.signal.aborted ? 'cancelled' : 'failed');
    const finished: Partial<DrRun> = {
      status,
      steps: outcome?.steps ?? run.steps,
      rtoMs: outcome?.verdict.rtoMs ?? null,
      rpoMs: outcome?.verdict.rpoMs ?? null,
      error: outcome?.error ?? (crash ? `unexpected error: ${crash.message}` : null),
      finishedAt: this.ctx.clock.now(),
    };
    try {
      await store.updateRun(this.ctx.pool, run.id, {
        status, steps: finished.steps, rtoMs: finished.rtoMs ?? undefined, rpoMs: finished.rpoMs ?? undefined,
        error: finished.error ?? undefined, finishedAt: finished.finishedAt ?? undefined,
      });
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1)', [DRILL_LOCK]).catch(() => {});
      lockClient.release();
    }
    const final = (await store.getRun(this.ctx.pool, run.id)) ?? { ...run, ...finished };
    await appendEvent(this.ctx.pool, {
      type: status === 'passed' ? 'dr.passed' : status === 'cancelled' ? 'dr.cancelled' : 'dr.failed',
      actor: status === 'cancelled' ? (final.cancelRequestedBy ?? req.requester) : 'firebreak',
      at: this.ctx.clock.now(), subject: `dr:${run.id}`,
      payload: {
        kind: run.kind, backupId: final.backupId, rtoMs: final.rtoMs, rpoMs: final.rpoMs, error: final.error,
        rtoMet: outcome?.verdict.rtoMet ?? null, rpoMet: outcome?.verdict.rpoMet ?? null,
        failedStep: final.steps.find((s) => s.status === 'failed')?.n ?? null,
      },
    }).catch((err: unknown) => this.ctx.log.error({ err, run: run.id }, 'could not record the end of a drill'));
    await chat.finish(final, outcome);
    if (final.trigger === 'schedule' && status !== 'passed') {
      await this.alertOps(view.scheduledDrillFailed(final));
    }
    return final;
  }

  async alertOps(message: { text: string; blocks?: unknown[] }): Promise<void> {
    try {
      const ch = await this.ctx.chat.findChannel(this.ctx.config.ops.channel);
      if (!ch) throw new Error(`ops channel ${this.ctx.config.ops.channel} not found`);
      await this.ctx.chat.post(ch.id, message as never);
    } catch (err) {
      this.ctx.log.error({ err }, 'could not alert the ops channel about a drill');
    }
  }
}

/** The backed-up server from the backups config, when it names one; the first source's URL. */
function backedUpServerUrl(ctx: AppContext): string | undefined {
  const b = ctx.config.backups as Record<string, unknown>;
  const candidates = [b['sourceUrl'], b['databaseUrl'], (b['databases'] as { url?: unknown }[] | undefined)?.[0]?.url];
  const url = candidates.find((c): c is string => typeof c === 'string' && /^postgres(ql)?:\/\//.test(c));
  if (!url) return undefined;
  // CREATE/DROP DATABASE work from any session; nothing is written to the database it names.
  return url;
}

/**
 * The drill's messages: a headline in the channel (status, cancel button) and, in its
 * thread, the ten steps updated in place, then the report. Chat failures are logged and never
 * stop a recovery.
 */
class DrillThread {
  private channel: string | undefined;
  private headTs: string | undefined;
  private stepsTs: string | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private ctx: AppContext,
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

  async open(): Promise<void> {
    await this.safe('open', async () => {
      const name = this.where ?? this.ctx.config.dr.channel ?? this.ctx.config.ops.channel;
      const ch = await this.ctx.chat.findChannel(name);
      if (!ch) throw new Error(`channel ${name} not found`);
      this.channel = ch.id;
      const head = await this.ctx.chat.post(ch.id, view.drillHeadline(this.run));
      this.headTs = head.ts;
      const steps = await this.ctx.chat.post(ch.id, view.drillSteps(this.run), { threadTs: head.ts });
      this.stepsTs = steps.ts;
      await store.updateRun(this.ctx.pool, this.run.id, { channelId: ch.id, messageTs: head.ts, threadTs: steps.ts });
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
      if (this.headTs) {
        await this.ctx.chat.update(this.channel!, this.headTs, view.drillHeadline(run));
        await this.ctx.chat.post(this.channel!, view.drillReport(run, outcome?.switchTraffic), { threadTs: this.headTs });
      }
    });
  }
}
