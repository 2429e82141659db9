import type { AppContext } from '../context.js';
import type { ActionHandler, EventHandler, ViewHandler, ChatEvent } from '../chat/interactions.js';
import type { CommandTable, Subcommand } from '../commands/table.js';
import type { Route } from '../http/router.js';
import type { JobHandler } from '../jobs/queue.js';

export type { AppContext };

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
