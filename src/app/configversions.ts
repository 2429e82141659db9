import type { AppContext, FirebreakModule } from './module.js';
import type { ChangeGate } from '../approvals/gate.js';
import { CONFIG_CHANGE_KIND, ConfigVersions, type ChangeParams } from '../configversions/service.js';
import { ConfigMessages } from '../configversions/messages.js';
import { configCommand } from '../commands/config.js';
import { configHandlers } from '../handlers/config.js';
import { configWatcher, type ReloadTarget, type ConfigWatcher, type SwitchListener } from '../configversions/watcher.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatSurface } from '../chat/surface.js';
import type pg from 'pg';

/** The area's service for this generation: versions over the pool, the gate, the ops channel. */
export function configVersionsService(ctx: AppContext, gate: ChangeGate): ConfigVersions {
  return new ConfigVersions({
    pool: ctx.pool, clock: ctx.clock, log: ctx.log, gate,
    notices: new ConfigMessages({ chat: ctx.chat, log: ctx.log, opsChannel: () => ctx.config.ops.channel }),
  });
}

/**
 * Configuration as a change: `/config`, the propose modal and its job, and the gated
 * `config.change` action (a new version or a rollback by hand). The watcher that switches
 * replicas is a platform component (src/configversions/watcher.ts), wired in src/app/main.ts.
 */
export function configVersionsModule(ctx: AppContext, gate: ChangeGate): FirebreakModule {
  const versions = configVersionsService(ctx, gate);
  gate.register<ChangeParams>({
    kind: CONFIG_CHANGE_KIND,
    describe: (p) => versions.describe(p),
    execute: (p, exec) => versions.execute(p, exec),
  });
  const handlers = configHandlers({ versions, jobs: ctx.jobs, replies: ctx.replies, clock: ctx.clock });
  return {
    name: 'configversions',
    commands: [configCommand(versions, () => ctx.config.flags)],
    views: handlers.views,
    jobs: handlers.jobs,
  };
}

/**
 * The watcher as a platform component (AppOptions.platform, part A): lives across generations,
 * keeps this replica on the active version. `configFor` is what the process adds to a version's
 * text + environment (main.ts: the embedded database URL, the console's trial backup key).
 */
export function configWatcherComponent(d: {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  chat: ChatSurface;
  config: Config;
  fileText: () => string;
  configFor?: (text: string, label: string) => Config;
  onSwitched?: SwitchListener[];
}): (app: ReloadTarget) => ConfigWatcher {
  const versions = new ConfigVersions({
    pool: d.pool, clock: d.clock, log: d.log, ...(d.configFor ? { configFor: d.configFor } : {}),
    notices: new ConfigMessages({ chat: d.chat, log: d.log, opsChannel: () => d.config.ops.channel }),
  });
  return configWatcher({ pool: d.pool, log: d.log, versions, fileText: d.fileText, checkIntervalSeconds: d.config.configChanges.checkIntervalSeconds, ...(d.onSwitched ? { onSwitched: d.onSwitched } : {}) });
}
