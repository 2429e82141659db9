import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../clock.js';
import { createLogger, type Logger } from '../log.js';
import { createPool, whileServerReturns } from '../db/pool.js';
import { ensureMigrated } from '../db/migrate.js';
import { JobQueue } from '../jobs/queue.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import type { Route } from '../http/router.js';
import type { ChatSurface } from '../chat/surface.js';
import type { ReplyFactory } from '../chat/interactions.js';
import { chatReplies } from '../chat/replies.js';
import type { AppContext, FirebreakModule } from './module.js';
import type { Interactions } from '../chat/router.js';
import { Lifecycle } from '../ops/lifecycle.js';
import { observeHttpRequest, setConfigVersionInfo } from '../ops/metrics.js';
import { buildGeneration, type AppServices, type Generation, type Platform } from './generation.js';
import type { ConfigVersionRef, ReloadOutcome } from '../config/version-ref.js';
import { envOnlyChanges, envOnlyMessage } from '../config/env-only.js';

export type { AppServices } from './generation.js';
export type { ConfigVersionRef, ReloadOutcome } from '../config/version-ref.js';

/** A component that lives across configuration generations (the version watcher, the rollback watch). */
export interface PlatformComponent {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AppOptions {
  config: Config;
  /** Close `pool` on stop even though the caller made it (main.ts shares it with the console). */
  ownsPool?: boolean;
  /** Defaults to a pool on config.databaseUrl. */
  pool?: pg.Pool;
  clock?: Clock;
  log?: Logger;
  /** The chat surface; built from config by src/main.ts (Slack or console). */
  chat: ChatSurface;
  /** How durable work answers people (Slack: response_url); defaults to ephemeral/DM through `chat`. */
  replies?: ReplyFactory;
  /** Extra routes from the edge that built the surface (/slack/events, /console). */
  edgeRoutes?: (app: FirebreakApp) => Route[];
  /** Run the job loop on a timer (production). Tests leave it off and call jobs.tick(). */
  runJobs?: boolean;
  /** The stored version `config` is (src/configversions); unset for a file never stored. */
  configVersion?: ConfigVersionRef;
  /**
   * Components that live across configuration generations: made and started after the first
   * generation is up, stopped first at stop().
   */
  platform?: Array<(app: FirebreakApp) => PlatformComponent>;
}

export interface FirebreakApp {
  /** The current generation's (src/app/generation.ts): each read may see a newer one after a reload. */
  readonly ctx: AppContext;
  readonly services: AppServices;
  readonly modules: FirebreakModule[];
  readonly interactions: Interactions;
  http: HttpServer;
  /** The configuration version this replica runs now; undefined for an unversioned file. */
  readonly configVersion: ConfigVersionRef | undefined;
  /**
   * Switches to `next` without a restart: builds and starts a new generation beside the running
   * one, swaps it in, then drains and stops the old one. Serialised; see ReloadOutcome.
   */
  reload(next: Config, version: ConfigVersionRef): Promise<ReloadOutcome>;
  /** Listens on config.port (0 = any free port) and returns the port. */
  listen(port?: number, host?: string): Promise<number>;
  /** Draining state and the abort signal for long work (src/app/shutdown.ts drives it). */
  lifecycle: Lifecycle;
  /** Stops everything; background work gets `budgetMs` (default ops.shutdownBudgetSeconds). */
  stop(budgetMs?: number): Promise<void>;
}

/**
 * The composition root: the process-wide platform (pool, job queue, HTTP server, lifecycle,
 * chat surface) and, on it, the current configuration generation (src/app/generation.ts), which
 * reload() replaces.
 */
export async function createApp(opts: AppOptions): Promise<FirebreakApp> {
  const { config } = opts;
  const log = opts.log ?? createLogger({ level: config.logLevel });
  if (!opts.pool && !config.databaseUrl) throw new Error('createApp needs a pool or config.databaseUrl');
  const pool = opts.pool ?? createPool(config.databaseUrl!);
  const ownsPool = !opts.pool || opts.ownsPool === true;
  const clock = opts.clock ?? systemClock;
  const replicaId = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  // A replica starting while PostgreSQL restarts waits it out instead of exiting.
  await whileServerReturns(() => ensureMigrated(pool), 30_000, (err) => log.warn({ err }, 'PostgreSQL is not answering yet; retrying'));
  const jobs = new JobQueue(pool, clock, log, replicaId);
  const lifecycle = new Lifecycle();
  let version = opts.configVersion;
  const platform: Platform = {
    pool, clock, log, chat: opts.chat, replies: opts.replies ?? chatReplies(opts.chat), replicaId, jobs, lifecycle,
    configVersion: () => version,
  };

  // The one pointer a reload swaps. Whatever a request or job reached through it before the swap
  // it keeps (the route it matched, the service it called), so it finishes on that generation.
  let current: Generation = buildGeneration(config, platform);
  let stopping = false;
  /** Replaced generations still finishing their requests and background work. */
  const retirements = new Set<Promise<void>>();
  let components: PlatformComponent[] = [];
  /** Reloads (and stop) wait for the one before: one switch at a time. */
  let serial: Promise<unknown> = Promise.resolve();
  const serialised = <T>(work: () => Promise<T>): Promise<T> => {
    const run = serial.then(work);
    serial = run.catch(() => {});
    return run;
  };

  const switchTo = async (next: Config, to: ConfigVersionRef): Promise<ReloadOutcome> => {
    if (stopping || lifecycle.draining) return { status: 'failed', error: 'this replica is shutting down; it starts on the newest version next time' };
    if (version && version.hash === to.hash) return { status: 'unchanged' };
    // The first version recorded is usually what this process already runs (the same file and
    // environment): adopt its number instead of building the same generation again.
    if (!version && JSON.stringify(current.config) === JSON.stringify(next)) {
      version = to;
      setConfigVersionInfo(to);
      log.info({ action: 'config.adopted', version: to.id, hash: to.hash }, `running configuration version ${to.id}`);
      return { status: 'unchanged' };
    }
    const envOnly = envOnlyChanges(current.config, next);
    if (envOnly.length) {
      const message = envOnlyMessage(envOnly);
      log.warn({ action: 'config.reload_refused', version: to.id, envOnly }, message);
      return { status: 'refused', envOnly, message };
    }
    let fresh: Generation;
    try {
      fresh = buildGeneration(next, platform);
      await fresh.start();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error({ err, action: 'config.reload_failed', version: to.id }, 'the new configuration did not start; the running one stays');
      return { status: 'failed', error };
    }
    const old = current;
    const from = version;
    current = fresh;
    version = to;
    jobs.install(fresh.handlers);
    setConfigVersionInfo(to);
    // Schedules: the old scheduler hands the lease back, the new one takes it at once and its
    // first renewal enqueues any slot that fell due in between (catch-up); the slot's dedupe
    // key makes a slot both know run once.
    const wasRunning = old.scheduler.started;
    await old.scheduler.stop().catch((err: unknown) => log.warn({ err, action: 'config.reload_scheduler' }, 'the replaced scheduler did not stop cleanly'));
    if (wasRunning) {
      await fresh.scheduler.start();
      old.scheduler.stopHeartbeat();
    }
    log.info({ action: 'config.switched', from: from?.id, to: to.id, hash: to.hash }, `configuration switched to version ${to.id}`);
    // Work the old generation started in the background finishes there before its modules stop.
    // Not awaited: the switch is done, and what watches it (the rollback watch) must start
    // counting now, not after the old generation's slowest request.
    const retiring = old.retire(next.ops.shutdownBudgetSeconds * 1000)
      .catch((err: unknown) => log.error({ err, action: 'config.retire' }, 'a replaced configuration generation did not stop cleanly'))
      .finally(() => retirements.delete(retiring));
    retirements.add(retiring);
    return { status: 'switched', ...(from ? { from } : {}), to };
  };

  let edge: Route[] = [];
  const http = createHttpServer(() => [...edge, ...current.routes()], log, observeHttpRequest);
  const app: FirebreakApp = {
    get ctx() {
      return current.ctx;
    },
    get services() {
      return current.services;
    },
    get modules() {
      return current.modules;
    },
    get interactions() {
      return current.interactions;
    },
    get configVersion() {
      return version;
    },
    http, lifecycle,
    reload: (next, to) => serialised(() => switchTo(next, to)),
    listen: (port = config.port, host) => http.listen(port, host),
    stop: async (budgetMs?: number) => {
      stopping = true;
      for (const c of [...components].reverse()) await c.stop().catch((err: unknown) => log.error({ err }, 'a platform component did not stop cleanly'));
      components = [];
      // A reload under way finishes (or is refused) first: then there is one generation to stop.
      await serialised(async () => {
        const g = current;
        await g.scheduler.stop();
        await http.close();
        await jobs.stop();
        await Promise.all([g.retire(budgetMs ?? g.config.ops.shutdownBudgetSeconds * 1000), ...retirements]);
        if (ownsPool) await pool.end();
      });
    },
  };
  // The edge (Bolt's client starts its auth.test here) is made before the modules start, as it
  // always was: start-up work overlaps it.
  edge = opts.edgeRoutes?.(app) ?? [];
  await current.start();
  jobs.install(current.handlers);
  setConfigVersionInfo(version);
  if (opts.runJobs) {
    jobs.start();
    await current.scheduler.start();
  }
  for (const make of opts.platform ?? []) {
    const c = make(app);
    await c.start();
    components.push(c);
  }
  return app;
}
