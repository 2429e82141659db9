import { escapeMrkdwn } from '../templates/blocks.js';
import type { ChangeGate, GateOutcome } from '../approvals/gate.js';
import type { ParsedArgs, Subcommand } from './table.js';
import type { CommandInvocation, InteractionContext } from '../chat/interactions.js';
import type { Pitr } from '../pitr/flows.js';
import { pitrConfigProblem } from '../pitr/config.js';
import { PHYSICAL_TYPES, PITR_BACKUP_KIND, PITR_DRY_RUN_KIND, PITR_EXECUTE_KIND, parseRecoveryTarget, pgTimestamp, type PhysicalBackupType } from '../pitr/model.js';
import * as say from '../templates/pitr.js';


export type PhysicalBackupParams = { type: PhysicalBackupType; channel?: string };
export type PitrRestoreParams = { to: string; repo: number; channel?: string };

type Run = (args: ParsedArgs, inv: CommandInvocation, ictx: InteractionContext) => Promise<void>;

/**
 * The `--physical` and `--to` branches of `/backup` and `/dr`, and `/backup status`. The logical
 * commands hand over to these when the flag is present; every action asks the change gate.
 */
export interface PhysicalVerbs {
  now: Run;
  verify: Run;
  dryRun: Run;
  execute: Run;
  /** Lines `/backup list` appends (empty when PITR is off). */
  listLines(limit: number): Promise<string[]>;
  status: Subcommand;
}

function outcome(o: GateOutcome, what: string): string {
  switch (o.status) {
    case 'pending':
      return `${what} is waiting for approval (change request #${o.requestId}, ${o.approvalsNeeded} approval(s) needed, not counting yours). It runs when approved; its progress appears in a thread here.`;
    case 'started':
      return `${what} is starting (${o.reason}); its progress appears in a thread here.`;
    case 'refused':
      return `${what} was refused: ${o.message}`;
  }
}

const NO_GATE = 'Physical backups and point-in-time restores run under change management, and the approvals service is not running on this Firebreak, so I cannot start one.';

export function physicalVerbs(pitr: Pitr, gate: () => ChangeGate | undefined): PhysicalVerbs {
  const off = (): string | undefined => {
    if (!pitr.cfg.enabled) return 'Point-in-time recovery is not configured here (the `pitr` config section is off). See README "Point-in-time recovery".';
    const problem = pitrConfigProblem(pitr.cfg);
    return problem ? `Point-in-time recovery cannot run with this configuration: ${problem}.` : undefined;
  };

  /** Parses `--to` and `--repo` and checks the target against the repository's backups. */
  async function restoreRequest(args: ParsedArgs, usage: string): Promise<PitrRestoreParams | string> {
    const target = parseRecoveryTarget(args.flags['to']);
    if ('problem' in target) return `Usage: \`${escapeMrkdwn(usage)}\`: ${target.problem}.`;
    const repoText = args.flags['repo'] ?? '1';
    const repo = Number(repoText);
    if (!Number.isInteger(repo) || repo < 1) return '`--repo` is a repository number (1, 2, ...).';
    const bad = await pitr.checkTarget(target, repo);
    if (bad) return `I cannot restore to that point: ${escapeMrkdwn(bad)}.`;
    return { to: target.kind === 'latest' ? 'latest' : pgTimestamp(target.at), repo };
  }

  return {
    now: async (args, inv, ictx) => {
      const why = off();
      if (why) return ictx.reply.ephemeral(why);
      const type = (args.words[0] ?? 'incr').toLowerCase();
      if (!PHYSICAL_TYPES.includes(type as PhysicalBackupType)) return ictx.reply.ephemeral('Usage: `/backup now --physical [full|diff|incr]` (default incr; pgBackRest makes the first one full).');
      if (pitr.isRunning()) return ictx.reply.ephemeral(say.physicalBusy(pitr.cfg.stanza));
      const g = gate();
      if (!g) return ictx.reply.ephemeral(NO_GATE);
      const o = await g.request(PITR_BACKUP_KIND, { type, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
        title: `Physical ${type} backup of stanza ${pitr.cfg.stanza} (pgBackRest, ${pitr.cfg.repos.length} repositories)`, category: 'standard', risk: 'low',
      });
      await ictx.reply.ephemeral(outcome(o, `The physical ${type} backup`));
    },
    verify: async (_args, inv, ictx) => {
      const why = off();
      if (why) return ictx.reply.ephemeral(why);
      await ictx.reply.ephemeral('Running `pgbackrest verify` on every repository; the result will appear here.');
      ictx.background('pitr-verify', async () => {
        try {
          const r = await pitr.verify(inv.actor.userId);
          await ictx.chat.post(inv.channelId, say.verifyResult(r.ok, r.lines));
        } catch (err) {
          await ictx.chat.post(inv.channelId, say.verifyResult(false, [(err as Error).message])).catch(() => {});
        }
      });
    },
    dryRun: async (args, inv, ictx) => {
      const why = off();
      if (why) return ictx.reply.ephemeral(why);
      const req = await restoreRequest(args, '/dr dry-run --to "<time>"|latest [--repo N]');
      if (typeof req === 'string') return ictx.reply.ephemeral(req);
      const g = gate();
      if (!g) return ictx.reply.ephemeral(NO_GATE);
      const o = await g.request(PITR_DRY_RUN_KIND, { ...req, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
        title: `PITR dry run to ${req.to} from repository ${req.repo} (scratch cluster, dropped after)`, category: 'standard', risk: 'low',
      });
      await ictx.reply.ephemeral(outcome(o, `The PITR dry run to ${req.to}`));
    },
    execute: async (args, inv, ictx) => {
      const why = off();
      if (why) return ictx.reply.ephemeral(why);
      if (!pitr.cfg.recoveryTarget.dataDir) return ictx.reply.ephemeral('There is no recovery target: set `pitr.recoveryTarget.dataDir` (and `port`) to the data directory a recovery restores into.');
      const req = await restoreRequest(args, '/dr execute --to "<time>"|latest [--repo N]');
      if (typeof req === 'string') return ictx.reply.ephemeral(req);
      const g = gate();
      if (!g) return ictx.reply.ephemeral(NO_GATE);
      const o = await g.request(PITR_EXECUTE_KIND, { ...req, channel: inv.channelId }, { userId: inv.actor.userId, channelId: inv.channelId }, {
        title: `PITR RECOVERY to ${req.to} from repository ${req.repo} into ${pitr.cfg.recoveryTarget.dataDir}`, risk: 'high',
      });
      await ictx.reply.ephemeral(outcome(o, `The recovery to ${req.to}`));
    },
    listLines: async (limit) => {
      if (!pitr.cfg.enabled) return [];
      try {
        return say.physicalList(await pitr.list(), limit);
      } catch (err) {
        return [`:x: physical backups unavailable: ${escapeMrkdwn((err as Error).message)}`];
      }
    },
    status: {
      name: 'status',
      usage: '',
      description: 'WAL archiving health (pg_stat_archiver), the current RPO against its target, and each pgBackRest repository.',
      run: async (_args, _inv, ictx) => {
        const why = off();
        if (why) return ictx.reply.ephemeral(why);
        await ictx.reply.ephemeral(say.statusMessage(await pitr.status()));
      },
    },
  };
}
