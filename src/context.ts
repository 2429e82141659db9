import type pg from 'pg';
import type { Config } from './config/schema.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import type { ChatSurface } from './chat/surface.js';
import type { ReplyFactory } from './chat/interactions.js';
import type { JobQueue } from './jobs/queue.js';
import type { Hooks } from './events/hooks.js';
import type { Background } from './jobs/background.js';
import type { Scheduler } from './jobs/scheduler.js';

/**
 * The shared platform every area is built with (database, clock, chat, jobs, hooks...).
 * What one area needs from another is passed to it separately, as a narrow interface, by the
 * composition root (src/app/app.ts).
 */
export interface AppContext {
  config: Config;
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  chat: ChatSurface;
  /** Turns a stored ReplyAddress back into a Reply: how durable work answers people later. */
  replies: ReplyFactory;
  jobs: JobQueue;
  /** Cron-driven work that runs once per slot across replicas (src/jobs/scheduler.ts). */
  scheduler: Scheduler;
  /**
   * Aborted when graceful shutdown's budget is nearly spent: long work (backups, drills,
   * restores) must stop, record itself as interrupted (never as good) and return.
   */
  shutdownSignal: AbortSignal;
  hooks: Hooks;
  background: Background;
  /** Unique per process: lease holder and job claimer id. */
  replicaId: string;
  /** Base URL for links back to Firebreak (console, runbooks). */
  publicUrl: string;
}
