import type { AppContext, FirebreakModule } from './module.js';
import type { ChangeGate } from '../approvals/gate.js';
import type { OpsPager } from '../paging/ops-pager.js';
import { Pitr, type Thread } from '../pitr/flows.js';
import { pitrConfigProblem } from '../pitr/config.js';
import { parseRecoveryTarget, PITR_BACKUP_KIND, PITR_DRY_RUN_KIND, PITR_EXECUTE_KIND, type PhysicalBackupType } from '../pitr/model.js';
import * as say from '../templates/pitr.js';
import { whileServerReturns } from '../db/pool.js';
import {
  physicalVerbs, type PhysicalBackupParams, type PhysicalVerbs, type PitrRestoreParams,
} from '../commands/pitr.js';

/**
 * The pitr area's wiring, all of it: the flows with their dependencies, the three gated actions,
 * the schedules (full/diff/incr, each followed by pgBackRest's expire; the watch), and the verbs
 * `/backup` and `/dr` hand `--physical` / `--to` to.
 */
export function pitrArea(
  ctx: AppContext,
  deps: { gate: ChangeGate; paging: Pick<OpsPager, 'pageOps'> },
): { module: FirebreakModule; verbs: PhysicalVerbs; pitr: Pitr } {
  const cfg = ctx.config.pitr;
  const pitr = new Pitr({
    config: cfg, pool: ctx.pool, clock: ctx.clock, log: ctx.log, chat: ctx.chat, opsChannel: ctx.config.ops.channel,
    pageOps: (p) => deps.paging.pageOps(p),
    shutdownSignal: ctx.shutdownSignal, rtoTargetMs: ctx.config.dr.targets.rtoMinutes * 60_000,
  });
  const verbs = physicalVerbs(pitr, () => deps.gate);

  const threadIn = async (channel: string | undefined, m: ReturnType<typeof say.physicalStarted>): Promise<Thread | undefined> => {
    if (!channel) return undefined;
    const posted = await ctx.chat.post(channel, m).catch(() => undefined);
    return posted ? { channel: posted.channel, ts: posted.ts } : undefined;
  };

  const register = (g: ChangeGate) => {
    g.register<PhysicalBackupParams>({
      kind: PITR_BACKUP_KIND,
      describe: (p) => `Physical ${p.type} backup of stanza ${cfg.stanza} with pgBackRest into every repository; WAL archiving is not interrupted.`,
      execute: async (p, exec) => {
        const thread = await threadIn(p.channel, say.physicalStarted(p.type, cfg.stanza, cfg.repos.length, exec.requester));
        const out = await pitr.backup(p.type as PhysicalBackupType, { requestedBy: exec.requester, thread });
        if ('busy' in out) return { ok: false, summary: say.physicalBusy(cfg.stanza).text };
        return { ok: out.run.status === 'succeeded', summary: say.physicalSummary(out.run, out.made).text };
      },
    });
    const restore = (kind: 'drill' | 'recovery') => async (p: PitrRestoreParams, exec: { requester: string; approvers: string[] }) => {
      const target = parseRecoveryTarget(p.to);
      if ('problem' in target) return { ok: false, summary: target.problem };
      const thread = await threadIn(p.channel, say.drillStarted(kind, target, p.repo, exec.requester));
      const r = kind === 'drill'
        ? await pitr.drill(target, { repo: p.repo, requestedBy: exec.requester, thread })
        : await pitr.recover(target, { repo: p.repo, requestedBy: exec.requester, approvers: exec.approvers, thread });
      return { ok: r.run.status === 'succeeded', summary: say.drillResult(r.run, r.report, pitr.deps.rtoTargetMs, cfg.rpoTargetSeconds * 1000).text };
    };
    g.register<PitrRestoreParams>({
      kind: PITR_DRY_RUN_KIND,
      describe: (p) => `PITR dry run: restore stanza ${cfg.stanza} to ${p.to} from repository ${p.repo} into a scratch cluster, validate, report RTO/RPO, drop it. Production is not touched.`,
      execute: restore('drill'),
    });
    g.register<PitrRestoreParams>({
      kind: PITR_EXECUTE_KIND,
      describe: (p) => `Point-in-time RECOVERY of stanza ${cfg.stanza} to ${p.to} from repository ${p.repo} into ${cfg.recoveryTarget.dataDir ?? '(no recovery target configured)'}, started on port ${cfg.recoveryTarget.port ?? 'any free port'}.`,
      execute: restore('recovery'),
    });
  };
  register(deps.gate);

  const module: FirebreakModule = {
    name: 'pitr',
    subcommands: { '/backup': [verbs.status] },
    start: async () => {
      if (!cfg.enabled) return;
      const problem = pitrConfigProblem(cfg);
      if (problem) {
        ctx.log.warn({ problem }, 'point-in-time recovery is enabled but not usable: no physical backups or PITR watch');
        return;
      }
      // Safe to repeat: waits out a PostgreSQL restart at start instead of exiting (as DR does).
      await whileServerReturns(() => pitr.recoverOrphans(), 30_000, (err) => ctx.log.warn({ err }, 'PostgreSQL is not answering yet; retrying the PITR start-up clean-up'));
      for (const type of ['full', 'diff', 'incr'] as const) {
        const cron = cfg.schedule[type];
        if (!cron) continue;
        ctx.scheduler.add({
          name: `pitr:${type}:${cfg.stanza}`,
          cron,
          // Retention: Pitr.backup runs `pgbackrest expire` itself after each good backup (expire-auto is off so every expiry is audited).
          run: async () => void (await pitr.backup(type, { requestedBy: 'firebreak-schedule' })),
        });
      }
      ctx.scheduler.add({ name: `pitr:watch:${cfg.stanza}`, cron: cfg.schedule.watch, run: async () => void (await pitr.watch()) });
    },
  };
  return { module, verbs, pitr };
}
