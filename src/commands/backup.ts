import { escapeMrkdwn } from '../templates/blocks.js';
import type { AppContext } from '../context.js';
import type { InteractionContext } from '../chat/interactions.js';
import type { ChangeGate, GateOutcome } from '../approvals/gate.js';
import { helpSubcommand, type CommandTable } from './table.js';
import { BackupUserError, type BackupService } from '../backups/service.js';
import * as view from '../templates/backups.js';
import { backupKeyProblem } from '../backups/config.js';
import type { PhysicalVerbs } from './pitr.js';

const ID = /^[0-9]{8}T[0-9]{6}Z-[a-z0-9_-]+-[0-9a-f]{4}$/i;

function gateText(o: GateOutcome, what: string): string {
  switch (o.status) {
    case 'pending':
      return `${what} is waiting for approval (change request #${o.requestId}, ${o.approvalsNeeded} approval(s) needed). It runs when approved.`;
    case 'started':
      return `${what} is starting (${o.reason}).`;
    case 'refused':
      return `${what} was refused: ${o.message}`;
  }
}

/** Runs a subcommand body, turning the refusals people can act on into a friendly reply. */
async function friendly(ictx: InteractionContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (err instanceof BackupUserError) return ictx.reply.ephemeral(escapeMrkdwn(err.message));
    throw err;
  }
}

function checkId(id: string | undefined, usage: string): string | undefined {
  if (!id) return `Usage: \`${escapeMrkdwn(usage)}\`. \`/backup list\` shows backup ids.`;
  if (!ID.test(id)) return `\`${escapeMrkdwn(id)}\` does not look like a backup id (e.g. \`20260101T020500Z-main-3f9a\`); \`/backup list\` shows them.`;
  return undefined;
}

/** `/backup`: one table for Slack, the console, help and tests. */
export function backupCommands(ctx: Pick<AppContext, 'config'>, service: BackupService, gate: ChangeGate, physical?: PhysicalVerbs): CommandTable {
  const table: CommandTable = {
    command: '/backup',
    description: 'PostgreSQL backups: streamed, encrypted, verified, kept by GFS retention.',
    subcommands: [
      {
        name: 'now',
        usage: '[database] | --physical [full|diff|incr]',
        description: 'Take a backup now (--physical: pgBackRest into every repository); a thread under the reply shows progress and the summary.',
        run: (args, inv, ictx) =>
          friendly(ictx, async () => {
            if (args.flags['physical'] && physical) return physical.now({ ...args, words: args.flags['physical'] === 'true' ? args.words : [args.flags['physical'], ...args.words] }, inv, ictx);
            const target = service.target(args.words[0]);
            if (service.isRunning(target.name)) return ictx.reply.ephemeral(view.backupBusy(target.name));
            const keyProblem = backupKeyProblem(ctx.config.backups);
            if (keyProblem) return ictx.reply.ephemeral(`Backups cannot run here yet, so I am not asking anyone to approve one: ${keyProblem}.`);
            // The gate decides: approvers first, or at once where the team pre-approved it.
            const o = await gate.request('backup.now', { database: target.name, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
              title: `Backup of ${target.name} now`, category: 'standard', risk: 'low', requestKey: inv.requestKey,
            });
            return ictx.reply.ephemeral(gateText(o, `The backup of *${target.name}*`));
          }),
      },
      {
        name: 'list',
        usage: '[database] [--limit N]',
        description: 'Backups newest first (by recorded time), with status and size.',
        run: (args, _inv, ictx) =>
          friendly(ictx, async () => {
            const database = args.words[0];
            if (database) service.target(database);
            const limit = args.flags['limit'] ? Number(args.flags['limit']) : 15;
            if (!Number.isInteger(limit) || limit < 1 || limit > 100) return ictx.reply.ephemeral('`--limit` is a whole number from 1 to 100.');
            const logical = view.backupList(await service.list({ database, limit }), database);
            // Physical backups (pgbackrest info) are listed after the logical ones, one line each.
            const lines = database || !physical ? [] : await physical.listLines(limit);
            await ictx.reply.ephemeral(lines.length ? { text: `${logical.text}\n*Physical backups (pgBackRest)*\n${lines.join('\n')}` } : logical);
          }),
      },
      {
        name: 'show',
        usage: '<id>',
        description: 'Everything the manifest records about one backup.',
        run: (args, _inv, ictx) =>
          friendly(ictx, async () => {
            const bad = checkId(args.words[0], '/backup show <id>');
            if (bad) return ictx.reply.ephemeral(bad);
            await ictx.reply.ephemeral(view.backupDetails(await service.get(args.words[0]!)));
          }),
      },
      {
        name: 'verify',
        usage: '<id> [--full] | --physical',
        description: 'Re-read and check a backup; --full also restores it into a scratch database and compares row counts; --physical runs pgbackrest verify.',
        run: (args, inv, ictx) =>
          friendly(ictx, async () => {
            if (args.flags['physical'] && physical) return physical.verify(args, inv, ictx);
            const bad = checkId(args.words[0], '/backup verify <id> [--full]');
            if (bad) return ictx.reply.ephemeral(bad);
            const id = args.words[0]!;
            const record = await service.get(id);
            if (record.status !== 'verified') return ictx.reply.ephemeral(`Backup ${escapeMrkdwn(id)} is ${record.status}; only good backups can be verified.`);
            const full = args.flags['full'] === 'true';
            await ictx.reply.ephemeral(`Verifying \`${escapeMrkdwn(id)}\`${full ? ' with a full restore into a scratch database' : ''}; the result will appear here.`);
            ictx.background(`backup-verify:${id}`, async () => {
              try {
                const r = await service.verify(id, { full, actor: inv.actor.userId });
                await ictx.chat.post(inv.channelId, view.verifyResult(r.record, r.ok, r.error));
              } catch (err) {
                await ictx.chat.post(inv.channelId, view.verifyResult(record, false, (err as Error).message)).catch(() => {});
              }
            });
          }),
      },
      {
        name: 'expire',
        usage: '--dry-run',
        description: 'Show what GFS retention would delete and what cleanup would remove (retention itself runs on its schedule).',
        run: (args, inv, ictx) =>
          friendly(ictx, async () => {
            if (args.flags['dry-run'] !== 'true') {
              return ictx.reply.ephemeral(
                `Retention deletes backups, so from chat it only plans: \`/backup expire --dry-run\`. It applies on its schedule (\`${ctx.config.backups.retention.cron || 'off'}\`) or with \`firebreak backup expire\`.`,
              );
            }
            const r = await service.expire({ dryRun: true, actor: inv.actor.userId });
            await ictx.reply.ephemeral(view.retentionPlanMessage(r.plan, true, r.cleanup, r.skipped));
          }),
      },
      {
        name: 'restore',
        usage: '<id> <new-database>',
        description: 'Restore a backup into a new database on the same server; an existing database needs an approved change.',
        run: (args, inv, ictx) =>
          friendly(ictx, async () => {
            const bad = checkId(args.words[0], '/backup restore <id> <new-database>');
            if (bad) return ictx.reply.ephemeral(bad);
            const [id, into] = args.words as [string, string | undefined];
            if (!into) return ictx.reply.ephemeral('Usage: `/backup restore &lt;id&gt; &lt;new-database&gt;`: name the database to restore into.');
            const record = await service.get(id);
            const exists = await service.targetDatabaseExists(record, into);
            if (exists) {
              const o = await gate.request('backup.restore', { backupId: id, target: into, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
                title: `Restore backup ${id} over existing database ${into}`, risk: 'high', category: 'normal', requestKey: inv.requestKey,
              });
              return ictx.reply.ephemeral(gateText(o, `Restoring ${id} over ${into}`));
            }
            await ictx.reply.ephemeral(`Restoring \`${escapeMrkdwn(id)}\` into a new database *${escapeMrkdwn(into)}*; the result will appear here.`);
            ictx.background(`backup-restore:${id}`, async () => {
              try {
                const r = await service.restore(id, into, { requestedBy: inv.actor.userId });
                await ictx.chat.post(inv.channelId, view.restoreDone(r.record, r.into, r.seconds, r.mismatches));
              } catch (err) {
                await ictx.chat.post(inv.channelId, { text: `:x: Restore of \`${id}\` into *${into}* failed: ${(err as Error).message}` }).catch(() => {});
              }
            });
          }),
      },
      helpSubcommand(() => table),
    ],
  };
  return table;
}
