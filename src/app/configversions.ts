import type { AppContext, FirebreakModule } from './module.js';
import type { ChangeGate } from '../approvals/gate.js';
import { CONFIG_CHANGE_KIND, ConfigVersions, type ChangeParams } from '../configversions/service.js';
import { ConfigMessages } from '../configversions/messages.js';
import { configCommand } from '../commands/config.js';
import { configHandlers } from '../handlers/config.js';

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
