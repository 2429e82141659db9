import type { AppContext, FirebreakModule } from './module.js';
import { whileServerReturns } from '../db/pool.js';
import type { ChangeGate, GatedAction } from '../approvals/gate.js';
import { drCommands } from '../commands/dr.js';
import { drActions } from '../handlers/dr.js';
import { busyMessage, runLabel } from '../templates/dr.js';
import { DR_DRY_RUN_KIND, DR_EXECUTE_KIND, formatDuration, type DrRun } from '../dr/model.js';
import type { DrService } from '../dr/service.js';
import type { PhysicalVerbs } from '../commands/pitr.js';

export type ExecuteParams = { backupId: string; target: string; channel?: string };
export type DryRunParams = { backupId: string; channel?: string };


/** The line the approval message and the audit log keep about a finished run. */
function summary(run: DrRun): string {
  const measures = `RTO ${formatDuration(run.rtoMs)}, RPO ${formatDuration(run.rpoMs)}`;
  return `${runLabel(run)} ${run.status}: ${measures}${run.error ? ` — ${run.error}` : ''}`;
}

/** `/dr execute` as the change gate runs it once the approvers have agreed. */
export function executeAction(ctx: AppContext, service: DrService): GatedAction<ExecuteParams> {
  return {
    kind: DR_EXECUTE_KIND,
    describe: (p) =>
      `Disaster RECOVERY: restore backup ${p.backupId} into database ${p.target} on the recovery server, validate it, then hand over the switch-traffic instruction.`,
    execute: async (p, exec) => {
      const r = await service.start({
        kind: 'execute', backupId: p.backupId, targetDatabase: p.target, requester: exec.requester, approvers: exec.approvers,
        changeRequestId: exec.requestId, channel: p.channel,
      });
      if (r.status !== 'started') {
        const why = r.status === 'busy' ? busyMessage(r.running).text : r.message;
        if (p.channel) await ctx.chat.post(p.channel, { text: `Recovery of ${p.backupId} into ${p.target} not started: ${why}` }).catch(() => {});
        return { ok: false, summary: `Not started: ${why}` };
      }
      const run = await r.done;
      return { ok: run.status === 'passed', summary: summary(run) };
    },
  };
}

/**
 * `/dr dry-run` as the change gate runs it: at once when the team pre-approved dry runs as a
 * standard change, otherwise once an approver other than the requester agrees.
 */
export function dryRunAction(ctx: AppContext, service: DrService): GatedAction<DryRunParams> {
  return {
    kind: DR_DRY_RUN_KIND,
    // A dry run touches only its own scratch database; the next run closes a dead one's run and drops its scratch.
    restartable: true,
    describe: (p) => `DR dry run: restore backup ${p.backupId} into a scratch database, validate it, report RTO/RPO, drop it. Production is not touched.`,
    execute: async (p, exec) => {
      const r = await service.start({
        kind: 'dry-run', backupId: p.backupId, requester: exec.requester, approvers: exec.approvers, changeRequestId: exec.requestId, channel: p.channel,
      });
      if (r.status !== 'started') {
        const why = r.status === 'busy' ? busyMessage(r.running).text : r.message;
        if (p.channel) await ctx.chat.post(p.channel, { text: `Dry run of ${p.backupId} not started: ${why}` }).catch(() => {});
        return { ok: false, summary: `Not started: ${why}` };
      }
      const run = await r.done;
      return { ok: run.status === 'passed', summary: summary(run) };
    },
  };
}

/** Disaster recovery: `/dr`, the Cancel button, the gated recovery and the scheduled drill. */
export function drModule(ctx: AppContext, service: DrService, changes: ChangeGate, pitr?: PhysicalVerbs): FirebreakModule {
  changes.register(executeAction(ctx, service));
  changes.register(dryRunAction(ctx, service));
  const schedule = ctx.config.dr.schedule;
  return {
    name: 'dr',
    commands: [drCommands(service, changes, pitr)],
    actions: drActions(service),
    start: async () => {
      // Safe to repeat; a replica starting during a PostgreSQL restart waits it out here as it
      // does for the migrations, instead of exiting (the chaos run saw it exit 1 here).
      await whileServerReturns(() => service.recoverOrphans(), 30_000, (err) => ctx.log.warn({ err }, 'PostgreSQL is not answering yet; retrying the DR start-up clean-up'));
      if (!schedule.enabled) return;
      ctx.scheduler.add({ name: 'dr:drill', cron: schedule.cron, run: async (slot) => void (await service.scheduledDrill(slot)) });
      ctx.scheduler.add({ name: 'dr:overdue', cron: '0 9 * * *', run: async () => void (await service.checkOverdue()) });
    },
    stop: () => service.stop(),
  };
}
