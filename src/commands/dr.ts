import { escapeMrkdwn } from '../templates/blocks.js';
import type { ChangeGate, GateOutcome } from '../approvals/gate.js';
import { helpSubcommand, type CommandTable } from './table.js';
import type { DrService } from '../dr/service.js';
import { DR_DRY_RUN_KIND, DR_EXECUTE_KIND } from '../dr/model.js';
import { busyMessage, historyMessage, runLabel, statusMessage } from '../templates/dr.js';
import type { PhysicalVerbs } from './pitr.js';

function outcomeText(o: GateOutcome, what: string): string {
  switch (o.status) {
    case 'pending':
      return `${what} is waiting for approval (change request #${o.requestId}, ${o.approvalsNeeded} approval(s) needed, not counting yours). It starts when approved; its steps will appear in a thread here.`;
    case 'started':
      return `${what} is starting (${o.reason}); follow its steps in the thread here.`;
    case 'refused':
      return `${what} was refused: ${o.message}`;
  }
}

const PLAIN_DB = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `/dr`: the disaster-recovery vocabulary, one table for Slack, the console, help and tests.
 * Dry runs and recoveries are asked of the change gate, which starts a dry run at once where
 * the team made it a pre-approved standard change and otherwise waits for approvers.
 */
export function drCommands(service: DrService, gate: ChangeGate, pitr?: Pick<PhysicalVerbs, 'dryRun' | 'execute'>): CommandTable {
  const table: CommandTable = {
    command: '/dr',
    description: 'Disaster recovery: drills that prove RTO/RPO, and recovery under approval.',
    subcommands: [
      {
        name: 'dry-run',
        aliases: ['drill'],
        usage: '[backup-id] | --to "<time>"|latest [--repo N]',
        description: 'Restore a backup (default: newest verified) into a scratch database, validate it, time it (RTO/RPO) and drop it; --to restores a pgBackRest scratch cluster to that time. Never touches production.',
        run: async (args, inv, ictx) => {
          if (args.flags['to'] && pitr) return pitr.dryRun(args, inv, ictx);
          const backupId = args.words[0];
          if (args.words.length > 1) return ictx.reply.ephemeral('Usage: `/dr dry-run [backup-id]`: one backup id at most.');
          // A typo should not become a failed drill in the history and the metrics.
          if (backupId && !(await service.findBackup(backupId))) {
            return ictx.reply.ephemeral(`There is no backup \`${escapeMrkdwn(backupId)}\`. \`/backup list\` shows backup ids; \`/dr dry-run\` alone takes the newest verified one.`);
          }
          // Approvers (or the audit log, where dry runs are pre-approved) see the exact backup,
          // so "newest" is resolved now; the gate decides whether it waits or starts at once.
          const backup = backupId ? await service.findBackup(backupId) : await service.newestVerifiedBackup();
          if (!backup) return ictx.reply.ephemeral('There is no verified backup to drill with yet. `/backup now` makes one; `/backup list` shows them.');
          const running = await service.running();
          if (running) return ictx.reply.ephemeral(busyMessage(running));
          const o = await gate.request(DR_DRY_RUN_KIND, { backupId: backup.id, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
            title: `DR dry run of backup ${backup.id} (${backup.database})`, category: 'standard', risk: 'low', requestKey: inv.requestKey,
          });
          return ictx.reply.ephemeral(outcomeText(o, `The dry run of ${backup.id}`));
        },
      },
      {
        name: 'execute',
        usage: '<backup-id> --target <database> | --to "<time>"|latest [--repo N]',
        description: 'Recover a backup into the named database (or, with --to, the cluster to that time into the configured recovery target) after two approvals, then tells you how to switch traffic.',
        run: async (args, inv, ictx) => {
          if (args.flags['to'] && pitr) return pitr.execute(args, inv, ictx);
          const backupId = args.words[0];
          const target = args.flags['target'];
          if (!backupId || !target || target === 'true' || args.words.length > 1) {
            return ictx.reply.ephemeral('Usage: `/dr execute &lt;backup-id&gt; --target &lt;database&gt;`. A recovery names its backup and its target; `/backup list` shows backup ids.');
          }
          if (!PLAIN_DB.test(target)) return ictx.reply.ephemeral(`\`${escapeMrkdwn(target)}\` is not a plain database name: use lower-case letters, digits and _.`);
          if (target.startsWith('firebreak_dr_')) return ictx.reply.ephemeral('Names starting with `firebreak_dr_` are reserved for drill scratch databases; choose another target.');
          const backup = await service.findBackup(backupId);
          if (!backup) return ictx.reply.ephemeral(`There is no backup \`${escapeMrkdwn(backupId)}\`. \`/backup list\` shows backup ids.`);
          const running = await service.running();
          if (running) return ictx.reply.ephemeral(busyMessage(running));
          const o = await gate.request(DR_EXECUTE_KIND, { backupId, target, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
            title: `DR recovery of backup ${backupId} (${backup.database}) into ${target}`, risk: 'high',
          });
          await ictx.reply.ephemeral(outcomeText(o, `The recovery of ${backupId} into ${target}`));
        },
      },
      {
        name: 'status',
        usage: '',
        description: "Show the running drill's current step, or the last one.",
        run: async (_args, _inv, ictx) => {
          const running = await service.running();
          const last = running ? undefined : (await service.history(1))[0];
          await ictx.reply.ephemeral(statusMessage(running, last));
        },
      },
      {
        name: 'history',
        usage: '[count]',
        description: 'Past drills and recoveries with RTO/RPO against targets, and the trend.',
        run: async (args, _inv, ictx) => {
          const n = args.words[0] ? Number(args.words[0]) : 10;
          if (!Number.isInteger(n) || n < 1 || n > 50) return ictx.reply.ephemeral('`/dr history [count]`: count is a whole number from 1 to 50.');
          await ictx.reply.ephemeral(historyMessage(await service.history(n)));
        },
      },
      {
        name: 'cancel',
        usage: '',
        description: 'Stop the running drill: kills pg_restore and drops its scratch database. It is reported as cancelled, never passed.',
        run: async (_args, inv, ictx) => {
          const r = await service.cancel(inv.actor.userId);
          if (r.status === 'idle') return ictx.reply.ephemeral('No drill is running.');
          if (r.status === 'refused') return ictx.reply.ephemeral(r.message);
          await ictx.reply.ephemeral(`Cancelling ${runLabel(r.run)}; its thread will say when it has stopped and cleaned up.`);
        },
      },
      helpSubcommand(() => table),
    ],
  };
  return table;
}
