import type { AppContext, FirebreakModule } from './module.js';
import type { GatedAction } from '../approvals/gate.js';
import { type ChangeService, EXECUTE_CLAIM_SECONDS, EXECUTE_QUEUE, executeRetryDelayMs, EXPIRY_QUEUE, RESUME_QUEUE } from '../approvals/service.js';
import { CHANGE_CATEGORIES } from '../approvals/model.js';
import { changeCommands } from '../commands/change.js';
import { approvalActions, approvalViews } from '../handlers/approvals.js';
import { auditCommands, type AnchorPort } from '../commands/audit.js';
import { latestAnchor, publishAnchor } from '../audit/anchor.js';
import { createObjectStore } from '../storage/index.js';
import { whileServerReturns } from '../db/pool.js';

type ManualChange = { title: string; category: string; risk: string | null; reason?: string };

/**
 * A change people make by hand (`/change request`): Firebreak runs nothing; "executing" it
 * records that the change is cleared to go ahead, so it has the same trail as gated actions.
 */
function manualChange(kind: string): GatedAction<ManualChange> {
  return {
    kind,
    describe: (p) => `Manual ${p.category} change: ${p.title}${p.risk ? ` (risk: ${p.risk})` : ''}${p.reason ? ` — ${p.reason}` : ''}`,
    execute: async (p, exec) => ({
      ok: true,
      summary: exec.approvers.length > 0
        ? `cleared to go ahead after ${exec.approvers.length} approval${exec.approvers.length === 1 ? '' : 's'}`
        : p.category === 'emergency' ? 'emergency change recorded; review it after the fact' : 'recorded; go ahead',
    }),
  };
}

export function approvalsModule(ctx: AppContext, changes: ChangeService): FirebreakModule {
  for (const category of CHANGE_CATEGORIES) changes.register(manualChange(`change.${category}`));
  // Registered here rather than in `jobs` because it needs its own claim length and backoff.
  // No run-time ceiling: an approved backup or restore of a large database may take hours,
  // and a retry while the first attempt still runs would run the change twice.
  ctx.jobs.handle(EXECUTE_QUEUE, (job) => changes.execute(job), { claimSeconds: EXECUTE_CLAIM_SECONDS, retryDelayMs: executeRetryDelayMs, maxRunSeconds: Infinity });
  // Anchors go to the backup store: off the database server, and a key is never rewritten.
  const anchorStore = createObjectStore(ctx.config.backups.storage, ctx.config.dataDir);
  const anchors: AnchorPort = {
    latest: () => latestAnchor(anchorStore),
    publish: () => publishAnchor({ pool: ctx.pool, store: anchorStore, clock: ctx.clock, log: ctx.log, chat: ctx.chat, channel: ctx.config.audit.channel }),
  };
  return {
    name: 'approvals',
    commands: [changeCommands(changes), auditCommands(ctx.pool, anchors)],
    actions: approvalActions(changes),
    views: approvalViews(changes),
    jobs: {
      [EXPIRY_QUEUE]: async () => {
        await changes.expireDue();
      },
      [RESUME_QUEUE]: async () => {
        await changes.resumeApproved();
      },
    },
    start: async () => {
      // Catch up on what happened while no replica ran: expiries that passed, approvals never
      // claimed. Resuming is a job so it runs after every area has started (DR closes its
      // orphaned runs first); every executor was registered when its area was wired.
      // Both are safe to repeat; a replica starting during a PostgreSQL restart waits it out
      // here as it does for the migrations, instead of exiting (the chaos run saw it exit 1).
      await whileServerReturns(async () => {
        await changes.expireDue();
        await ctx.jobs.enqueue(RESUME_QUEUE, {}, { runAt: ctx.clock.now() });
      }, 30_000, (err) => ctx.log.warn({ err }, 'PostgreSQL is not answering yet; retrying the approvals catch-up'));
      if (ctx.config.audit.anchorCron) ctx.scheduler.add({ name: 'audit:anchor', cron: ctx.config.audit.anchorCron, run: async () => void (await anchors.publish()) });
    },
  };
}
