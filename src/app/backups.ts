import type { AppContext, FirebreakModule } from './module.js';
import { backupCommands } from '../commands/backup.js';
import type { BackupService } from '../backups/service.js';
import type { ChangeGate } from '../approvals/gate.js';
import { backupStarted, backupBusy, backupSummary, restoreDone } from '../templates/backups.js';
import type { ProgressThread } from '../backups/service.js';
import type { PhysicalVerbs } from '../commands/pitr.js';

type RestoreParams = { backupId: string; target: string; channel?: string };
type BackupNowParams = { database: string; channel?: string };

/**
 * Backups: `/backup`, the scheduled runs (one replica per slot through ctx.scheduler), the
 * retention and staleness watches, and the gated `backup.restore` over an existing database.
 */
export function backupsModule(ctx: AppContext, service: BackupService, changes: ChangeGate, physical?: PhysicalVerbs): FirebreakModule {
  const cfg = ctx.config.backups;
  // `/backup now` under the change policy: runs once approved (or at once when the team
  // pre-approved it), with the same progress thread as an immediate backup.
  // Restartable: a replica killed mid-backup leaves its run to the next replica to claim the
  // job, which starts the backup again (the abandoned row is marked failed under the lock).
  changes.register<BackupNowParams>({
    kind: 'backup.now',
    restartable: true,
    describe: (p) => `Back up database ${p.database} now (pg_dump, compressed, encrypted, verified) into the backup store.`,
    execute: async (p, exec) => {
      const target = service.target(p.database);
      let thread: ProgressThread | undefined;
      if (p.channel) {
        const posted = await ctx.chat.post(p.channel, backupStarted(target.name, exec.requester, undefined, exec.restarted)).catch(() => undefined);
        if (posted) thread = { channel: posted.channel, ts: posted.ts };
      }
      const out = await service.take(target, { tier: 'manual', requestedBy: exec.requester, thread });
      if ('busy' in out) return { ok: false, summary: backupBusy(target.name).text };
      return { ok: !out.error, summary: backupSummary(out.record).text };
    },
  });
  changes.register<RestoreParams>({
    kind: 'backup.restore',
    describe: (p) => `Restore backup ${p.backupId} OVER the existing database ${p.target}: its objects are dropped and replaced with the backup's (pg_restore --clean).`,
    execute: async (p, exec) => {
      const r = await service.restore(p.backupId, p.target, { requestedBy: exec.requester, allowExisting: true });
      const msg = restoreDone(r.record, r.into, r.seconds, r.mismatches);
      if (p.channel) await ctx.chat.post(p.channel, msg).catch((err: unknown) => ctx.log.warn({ err }, 'could not report the restore'));
      return { ok: r.mismatches.length === 0, summary: msg.text };
    },
  });
  return {
    name: 'backups',
    commands: [backupCommands(ctx, service, changes, physical)],
    start: async () => {
      const targets = service.targets();
      if (!cfg.encryption.recipient) {
        // Unconfigured backups would fail every slot; say so once instead of alerting hourly.
        ctx.log.warn('backups are not configured (no backups.encryption.recipient / FIREBREAK_BACKUP_RECIPIENT): no scheduled backups, retention or staleness alerts');
        return;
      }
      for (const schedule of cfg.schedules) {
        for (const t of targets) {
          if (schedule.databases.length && !schedule.databases.includes(t.name)) continue;
          ctx.scheduler.add({
            name: `backup:${schedule.name}:${t.name}`,
            cron: schedule.cron,
            run: (slot) => service.runScheduled(schedule, t.name, slot),
          });
        }
      }
      if (cfg.retention.cron) {
        ctx.scheduler.add({
          name: 'backup:retention',
          cron: cfg.retention.cron,
          run: async () => {
            const r = await service.expire({ dryRun: false, actor: 'firebreak-retention' });
            ctx.log.info({ expired: r.expired.length, kept: r.plan.keep.length, cleanup: r.cleanup }, 'backup retention applied');
          },
        });
      }
      if (targets.length && cfg.schedules.length) {
        ctx.scheduler.add({ name: 'backup:staleness', cron: cfg.staleCheckCron, run: async () => void (await service.checkStaleness()) });
      }
    },
  };
}
