import type pg from 'pg';
import type { Config } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatSurface } from '../chat/surface.js';
import type { ActionHandler, EventHandler, ViewHandler, ChatEvent, ReplyFactory } from '../chat/interactions.js';
import type { CommandTable } from '../commands/table.js';
import type { Route } from '../http/router.js';
import type { JobHandler, JobQueue } from '../jobs/queue.js';
import type { Hooks } from './hooks.js';
import type { Background } from './background.js';
import type { Services } from './services.js';
import type { Subcommand } from '../commands/table.js';
import type { Scheduler } from '../jobs/scheduler.js';

/** What every area gets from the composition root (src/app/app.ts). */
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
  /** Cross-area services, registered by modules as they are built. */
  services: Services;
}

/**
 * One area of Firebreak as the composition root sees it: the commands, buttons, modals,
 * chat events, HTTP routes and jobs it contributes. src/app/app.ts lists the modules; the Slack
 * edge and the console route to them by name.
 */
export interface FirebreakModule {
  name: string;
  commands?: CommandTable[];
  /** Subcommands this area adds to another area's command, e.g. paging adds `/incident page`. */
  subcommands?: Record<string, Subcommand[]>;
  /** By Block Kit action_id. */
  actions?: Record<string, ActionHandler>;
  /** By modal callback_id. */
  views?: Record<string, ViewHandler>;
  events?: Partial<Record<ChatEvent['type'], EventHandler>>;
  routes?: Route[];
  /** Job queue name -> handler. */
  jobs?: Record<string, JobHandler>;
  /** Readiness checks: name -> throws when down. */
  readiness?: Record<string, () => Promise<void>>;
  start?(): Promise<void>;
  /** Called at shutdown after new work stops arriving. */
  stop?(): Promise<void>;
}
