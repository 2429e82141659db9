import type { Logger } from '../log.js';
import type { FirebreakApp } from './app.js';
import { appendEvent } from '../events/log.js';

export interface GracefulShutdownOptions {
  /** Everything (drain, in-flight requests, jobs, background work) must fit in this. */
  budgetMs: number;
  log: Logger;
  /** process.exit in production; tests pass a spy. */
  exit: (code: number) => void;
  /** Seconds readiness reports 503 before the listener closes (load balancers catch up). */
  drainDelayMs?: number;
  signals?: NodeJS.Signals[];
  /**
   * Closes ways work arrives other than the HTTP listener (the Slack Socket Mode connection),
   * called with the scheduler stop so Slack redelivers to another replica.
   */
  stopIntake?: () => Promise<void>;
}

export interface ShutdownReport {
  signal: string;
  durationMs: number;
  requestsCutOff: number;
  backgroundInterrupted: number;
  jobsInterrupted: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Resolves true when `p` settles within `ms`, false when time ran out first. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    p.then(() => true, () => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
  return done;
}

/**
 * The shutdown sequence, in the order that loses nothing, all within `budgetMs`:
 * 1. readiness answers 503 (load balancers stop sending), optionally for `drainDelayMs`;
 * 2. the scheduler stops and hands its lease back, so a survivor fires the next slot;
 * 3. the listener closes and in-flight requests finish;
 * 4. the job loop stops claiming; the job in hand and background work get the rest of the
 *    budget; a little before the end (`tail`), ctx.shutdownSignal aborts so long work (backups,
 *    drills) stops and records itself interrupted while the database is still there;
 * 5. whatever still runs is recorded as interrupted in the event log, modules stop, the pool
 *    closes, logs flush, and the process exits 0.
 */
export async function shutDownGracefully(app: FirebreakApp, signal: string, opts: Omit<GracefulShutdownOptions, 'exit' | 'signals'>): Promise<ShutdownReport> {
  const { log, budgetMs } = opts;
  const started = Date.now();
  const deadline = started + budgetMs;
  const left = () => Math.max(0, deadline - Date.now());
  // Kept back from the drain for what must happen after it: recording, closing, flushing.
  const tail = Math.min(3000, budgetMs * 0.2);
  const { ctx, lifecycle } = app;
  lifecycle.beginDrain();
  log.info({ action: 'shutdown.begin', signal, budgetMs, inflight: app.http.inflight(), background: ctx.background.size, jobs: ctx.jobs.inHand }, 'shutting down: readiness now 503');
  // Long work gets told to stop while there is still time to record it as interrupted.
  const abortTimer = setTimeout(() => lifecycle.stopLongWork(`${signal}: shutdown budget of ${budgetMs} ms ran out`), Math.max(0, budgetMs - 2 * tail));
  abortTimer.unref();

  if (opts.drainDelayMs) await sleep(Math.min(opts.drainDelayMs, left() / 2));

  if (opts.stopIntake) {
    await within(opts.stopIntake().catch((err: unknown) => log.warn({ err, action: 'shutdown.intake' }, 'could not close an intake connection')), Math.min(5000, left()));
  }
  await within(ctx.scheduler.stop(), Math.min(5000, left())).then((ok) => {
    if (!ok) log.warn({ action: 'shutdown.scheduler' }, 'scheduler did not stop in time; its lease expires on its own');
  });

  const closing = app.http.close();
  const requestsDone = await within(closing, Math.max(0, left() - 2 * tail));
  const requestsCutOff = requestsDone ? 0 : app.http.inflight();
  if (!requestsDone) {
    log.warn({ action: 'shutdown.requests_cut_off', inflight: requestsCutOff }, 'in-flight requests did not finish within the budget');
    app.http.server.closeAllConnections();
  }

  const jobsStopped = within(ctx.jobs.stop(), Math.max(0, left() - tail));
  const backgroundDone = ctx.background.drain(Math.max(0, left() - tail));
  const [jobsDone, bgDone] = await Promise.all([jobsStopped, backgroundDone]);
  if (!jobsDone || !bgDone) {
    lifecycle.stopLongWork(`${signal}: shutdown budget ran out`);
    // Work that honours the signal records itself as interrupted; give it a moment to do so.
    await within(Promise.all([ctx.jobs.stop(), ctx.background.drain(left() / 2)]), left() / 2);
  }
  clearTimeout(abortTimer);
  const backgroundInterrupted = ctx.background.size;
  const jobsInterrupted = !(await within(ctx.jobs.stop(), 0));

  const report: ShutdownReport = { signal, durationMs: Date.now() - started, requestsCutOff, backgroundInterrupted, jobsInterrupted };
  if (requestsCutOff || backgroundInterrupted || jobsInterrupted) {
    await within(
      appendEvent(ctx.pool, { type: 'ops.shutdown_interrupted', actor: `replica:${ctx.replicaId}`, at: ctx.clock.now(), subject: `replica:${ctx.replicaId}`, payload: { ...report } }),
      Math.max(500, left() / 2),
    ).catch(() => {});
    log.warn({ action: 'shutdown.interrupted', ...report }, 'work was interrupted by shutdown and recorded as interrupted');
  }
  // app.stop() closes what is left (modules, pool); bounded so a stuck client cannot hold the exit.
  await within(app.stop(0), Math.max(500, left()));
  log.info({ action: 'shutdown.done', ...report, durationMs: Date.now() - started }, 'shutdown complete');
  await new Promise<void>((r) => log.flush(() => r()));
  return report;
}

/**
 * One stop request often arrives as several identical signals: a Ctrl-C or a `kill -- -PGID`
 * reaches every process in the group, and `npm start` forwards the one it got as well. Repeats
 * this soon after the first are the same request, not an operator insisting.
 */
const SAME_REQUEST_MS = 1000;

/**
 * Installs SIGTERM/SIGINT handlers that run `shutDownGracefully` once and then exit 0.
 * A signal more than a second into the drain exits at once with 1: the operator insisted.
 * Signals after the drain finished change nothing: the process is already on its way out.
 */
export function installGracefulShutdown(app: FirebreakApp, opts: GracefulShutdownOptions): () => void {
  let startedAt: number | undefined;
  let finished = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (finished) return;
    if (startedAt !== undefined) {
      if (Date.now() - startedAt < SAME_REQUEST_MS) return;
      opts.log.warn({ action: 'shutdown.forced', signal }, 'second signal: exiting without finishing the drain');
      opts.exit(1);
      return;
    }
    startedAt = Date.now();
    shutDownGracefully(app, signal, opts).then(
      () => {
        finished = true;
        opts.exit(0);
      },
      (err: unknown) => {
        finished = true;
        opts.log.error({ err, action: 'shutdown.failed' }, 'graceful shutdown failed');
        opts.exit(1);
      },
    );
  };
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
