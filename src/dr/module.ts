import type { AppContext, FirebreakModule } from '../module.js';
import { drCommands } from '../commands/dr.js';
import { drActions } from '../handlers/dr.js';
import { busyMessage, drillMissed, runLabel } from '../templates/dr.js';
import { formatDuration, type DrRun } from './model.js';
import type { BackupSource } from './backup-source.js';
import { backupsRestoreSource } from './backups-binding.js';
import { DrService, type StartResult } from './service.js';
import * as store from './store.js';

type DryRunParams = { backupId?: string | null; channel?: string };
type ExecuteParams = { backupId: string; target: string; channel?: string };

/** The line the approval message and the audit log keep about a finished run. */
function summary(run: DrRun): string {
  const measures = `RTO ${formatDuration(run.rtoMs)}, RPO ${formatDuration(run.rpoMs)}`;
  return `${runLabel(run)} ${run.status}: ${measures}${run.error ? ` — ${run.error}` : ''}`;
}

async function finishGated(ctx: AppContext, r: StartResult, channel: string | undefined) {
  if (r.status === 'busy') {
    const msg = busyMessage(r.running);
    if (channel) await ctx.chat.post(channel, msg).catch((err: unknown) => ctx.log.warn({ err }, 'could not say a drill is busy'));
    return { ok: false, summary: `Not started: ${msg.text}` };
  }
  const run = await r.done;
  return { ok: run.status === 'passed', summary: summary(run) };
}

/**
 * Disaster recovery: `/dr`, the Cancel button, the gated dry-run and execute actions and
 * the scheduled drill. `source` defaults to the backups area's restore functions.
 */
export function drModule(ctx: AppContext, source: BackupSource = backupsRestoreSource(ctx)): FirebreakModule {
  const service = new DrService(ctx, source);
  ctx.services.dr = service;
  const schedule = ctx.config.dr.schedule;
  return {
    name: 'dr',
    commands: [drCommands(ctx, service)],
    actions: drActions(service),
    start: async () => {
      const gate = ctx.services.changes;
      if (!gate) ctx.log.warn('no change gate: /dr dry-run and /dr execute will refuse until approvals run');
      gate?.register<DryRunParams>({
        kind: 'dr.dry-run',
        describe: (p) => `Disaster-recovery dry run: restore ${p.backupId ? `backup ${p.backupId}` : 'the newest verified backup'} into a scratch database firebreak_dr_<n>, validate, time it and drop it. Production is not touched.`,
        execute: async (p, exec) =>
          finishGated(ctx, await service.start({
            kind: 'dry-run', backupId: p.backupId ?? undefined, requester: exec.requester, approvers: exec.approvers,
            changeRequestId: exec.requestId, channel: p.channel,
          }), p.channel),
      });
      gate?.register<ExecuteParams>({
        kind: 'dr.execute',
        describe: (p) => `Disaster RECOVERY: restore backup ${p.backupId} into database ${p.target} on the recovery server, validate it, then switch traffic to it.`,
        execute: async (p, exec) =>
          finishGated(ctx, await service.start({
            kind: 'execute', backupId: p.backupId, targetDatabase: p.target, requester: exec.requester, approvers: exec.approvers,
            changeRequestId: exec.requestId, channel: p.channel,
          }), p.channel),
      });
      if (!schedule.enabled) return;
      ctx.scheduler.add({
        name: 'dr:drill',
        cron: schedule.cron,
        run: async (slot) => {
          let r: StartResult;
          try {
            r = await service.start({ kind: 'dry-run', trigger: 'schedule', requester: 'firebreak-scheduler', channel: ctx.config.dr.channel });
          } catch (err) {
            await service.alertOps(drillMissed(`the drill scheduled for ${slot.toISOString()} could not start: ${(err as Error).message}`));
            throw err;
          }
          if (r.status === 'busy') {
            await service.alertOps(drillMissed(`the drill scheduled for ${slot.toISOString()} did not start: ${busyMessage(r.running).text}`));
            return;
          }
          // Failed scheduled drills alert the ops channel from the service when they finish.
          await r.done;
        },
      });
      ctx.scheduler.add({
        name: 'dr:overdue',
        cron: '0 9 * * *',
        run: async () => {
          const last = await store.lastDryRunStartedAt(ctx.pool);
          const limitMs = schedule.overdueAfterDays * 86_400_000;
          if (last && ctx.clock.now().getTime() - last.getTime() <= limitMs) return;
          await service.alertOps(drillMissed(last
            ? `no DR dry run for ${formatDuration(ctx.clock.now().getTime() - last.getTime())} (limit ${schedule.overdueAfterDays} days); the RTO is unproven. Run \`/dr dry-run\`.`
            : 'no DR dry run has ever run, so the RTO is unproven. Run `/dr dry-run`.'));
        },
      });
    },
    stop: () => service.stop(),
  };
}
