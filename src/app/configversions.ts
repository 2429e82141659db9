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
import { RollbackWatch } from '../configversions/rollback-watch.js';
import { processErrorSignals } from '../configversions/error-signals.js';

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
 * How this process follows the active configuration version, across generations: the versions
 * it reads (no gate: switching never asks anyone, the gate already did), the watcher that
 * reloads the app into the active version (src/configversions/watcher.ts) and the rollback
 * watch that undoes a switch whose errors rise (rollback-watch.ts). `configFor` is what the
 * process adds to a version's text + environment (main.ts: the embedded database URL, the
 * console's trial backup key).
 */
export function configFollowing(d: {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  chat: ChatSurface;
  config: Config;
  fileText: () => string;
  configFor?: (text: string, label: string) => Config;
}): { versions: ConfigVersions; component: (app: ReloadTarget) => ConfigWatcher } {
  const versions = new ConfigVersions({
    pool: d.pool, clock: d.clock, log: d.log, ...(d.configFor ? { configFor: d.configFor } : {}),
    notices: new ConfigMessages({ chat: d.chat, log: d.log, opsChannel: () => d.config.ops.channel }),
  });
  const component = (app: ReloadTarget): ConfigWatcher => {
    // The settings this process started with: a version must not be able to switch off, or
    // loosen, the watch that judges it.
    const watch = new RollbackWatch({ clock: d.clock, log: d.log, signals: processErrorSignals(), target: versions, config: d.config.configChanges.rollback });
    const onSwitched: SwitchListener = (to, from) => {
      void versions.forwardSwitch(to, from).then(
        (forward) => (forward ? watch.onSwitched(to, from) : d.log.info({ action: 'config.rollback_watch', version: to.id, decision: 'not_forward' }, `switched to configuration version ${to.id} (a rollback or a first version): not watched`)),
        (err: unknown) => d.log.warn({ err }, 'could not tell whether a configuration switch was a rollback; not watched'),
      );
    };
    const watcher = configWatcher({ pool: d.pool, log: d.log, versions, fileText: d.fileText, checkIntervalSeconds: d.config.configChanges.checkIntervalSeconds, onSwitched: [onSwitched] })(app);
    return {
      get listening() {
        return watcher.listening;
      },
      check: () => watcher.check(),
      start: () => watcher.start(),
      stop: async () => {
        watch.stop();
        await watcher.stop();
      },
    };
  };
  return { versions, component };
}
