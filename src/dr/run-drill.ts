import type pg from 'pg';
import type { ChatMessage } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import { drDrills, drLastDrillSucceeded, drLastRpoSeconds, drLastRtoSeconds } from '../ops/metrics.js';
import type { BackupSource } from './backup-source.js';
import { Drill, SHUTDOWN, type DrillOutcome } from './drill.js';
import { DrillThread } from './messages.js';
import type { DrRun } from './model.js';
import type { DrContext, DrillRequest } from './context.js';
import * as store from './store.js';
import * as view from '../templates/dr.js';

/** What running a drill needs: the app's parts, the backups it restores, and where it runs. */
export interface RunDrillDeps {
  ctx: DrContext;
  source: BackupSource;
  /** The server the run restores onto (scratch for a dry run, the target for a recovery). */
  serverUrl: () => Promise<string>;
  workDir: string;
  alertOps: (message: ChatMessage) => Promise<void>;
}

/**
 * Run a drill (or a recovery), holding the drill lock: open its thread, run the ten steps
 * (drill.ts) while watching for a cancel or a shutdown, record how it ended (row, metrics,
 * event), release the lock, report in the thread, and alert ops when a scheduled drill did
 * not pass. Never rejects: a crash outside the steps is a failed run.
 */
export async function runDrill(d: RunDrillDeps, run: DrRun, req: DrillRequest, controller: AbortController, lockClient: pg.PoolClient, onStopped: () => void): Promise<DrRun> {
  const chat = new DrillThread(d.ctx, run, req.channel);
  const onShutdown = () => controller.abort(SHUTDOWN);
  d.ctx.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
  const poll = setInterval(() => {
    store.cancelRequestedBy(d.ctx.pool, run.id).then(
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
        config: d.ctx.config.dr, clock: d.ctx.clock, log: d.ctx.log, source: d.source, statePool: d.ctx.pool,
        pgBinDir: d.ctx.config.backups.pgBinDir,
      },
      {
        runId: run.id, kind: run.kind, backupId: req.backupId, database: d.ctx.config.dr.database,
        serverUrl: await d.serverUrl(),
        targetDatabase: req.targetDatabase, stateDatabaseUrl: d.ctx.config.databaseUrl, workDir: d.workDir,
        targets: run.targets,
      },
      controller.signal,
      async (steps, info) => {
        run.steps = steps;
        if (info.backup) {
          run.backupId = info.backup.id;
          run.database = info.backup.database;
        }
        await store.updateRun(d.ctx.pool, run.id, { steps, backupId: run.backupId ?? undefined, database: run.database ?? undefined });
        await chat.steps(run);
      },
    );
    outcome = await drill.run();
  } catch (err) {
    crash = err as Error;
    d.ctx.log.error({ err, run: run.id }, 'dr run failed outside its steps');
  } finally {
    clearInterval(poll);
    d.ctx.shutdownSignal.removeEventListener('abort', onShutdown);
    onStopped();
  }
  const stopped = controller.signal.aborted ? (controller.signal.reason === SHUTDOWN ? 'interrupted' : 'cancelled') : undefined;
  const status = outcome?.status ?? stopped ?? 'failed';
  const error = outcome?.error ?? (crash ? `unexpected error: ${crash.message}` : null);
  try {
    await store.updateRun(d.ctx.pool, run.id, {
      status, steps: outcome?.steps ?? run.steps, rtoMs: outcome?.verdict.rtoMs ?? undefined, rpoMs: outcome?.verdict.rpoMs ?? undefined,
      error: error ?? undefined, finishedAt: d.ctx.clock.now(),
    });
  } finally {
    await store.unlockDrills(lockClient).catch(() => {});
    lockClient.release();
  }
  const final = (await store.getRun(d.ctx.pool, run.id)) ?? { ...run, status, error };
  recordMetrics(d.ctx.config.dr.database, final);
  await appendEvent(d.ctx.pool, {
    type: `dr.${status}`,
    actor: status === 'cancelled' ? (final.cancelRequestedBy ?? req.requester) : 'firebreak',
    at: d.ctx.clock.now(), subject: `dr:${run.id}`,
    payload: {
      kind: run.kind, backupId: final.backupId, target: final.targetDatabase, rtoMs: final.rtoMs, rpoMs: final.rpoMs, error: final.error,
      rtoMet: outcome?.verdict.rtoMet ?? null, rpoMet: outcome?.verdict.rpoMet ?? null,
      failedStep: final.steps.find((s) => s.status === 'failed')?.n ?? null,
    },
  }).catch((err: unknown) => d.ctx.log.error({ err, run: run.id }, 'could not record the end of a drill'));
  await chat.finish(final, outcome);
  if (final.trigger === 'schedule' && status !== 'passed') await d.alertOps(view.scheduledDrillFailed(final));
  return final;
}

function recordMetrics(configured: string | undefined, run: DrRun): void {
  const target = run.database ?? configured ?? 'unknown';
  const outcome = run.status === 'passed' ? 'succeeded' : run.status === 'failed' ? 'failed' : 'interrupted';
  drDrills.inc({ target, mode: run.kind, outcome });
  drLastDrillSucceeded.set({ target }, run.status === 'passed' ? 1 : 0);
  if (run.rtoMs !== null) drLastRtoSeconds.set({ target }, run.rtoMs / 1000);
  if (run.rpoMs !== null) drLastRpoSeconds.set({ target }, run.rpoMs / 1000);
}
