import type { AppContext, FirebreakModule } from './module.js';
import {
  DIGEST_QUEUE, postWeeklyDigest, queueOverdueReminders, queueWeeklyDigest, REMINDER_QUEUE, retryDelayMs, sendOverdueReminder, type OverdueDeps,
} from '../followups/overdue.js';

/**
 * Weekly overdue follow-up reminders (DMs to owners) and the weekly digest to the incidents
 * channel: two schedules (followups.reminders.cron / digestCron, UTC; '' turns one off) whose
 * slots queue durable jobs keyed by the week (src/followups/overdue.ts).
 */
export function followupRemindersModule(ctx: AppContext): FirebreakModule {
  const cfg = ctx.config.followups.reminders;
  const deps: OverdueDeps = { pool: ctx.pool, clock: ctx.clock, log: ctx.log, jobs: ctx.jobs, chat: ctx.chat, digestChannel: ctx.config.incidents.channel };
  ctx.jobs.handle(REMINDER_QUEUE, async (job) => void (await sendOverdueReminder(deps, job)), { retryDelayMs });
  ctx.jobs.handle(DIGEST_QUEUE, async (job) => void (await postWeeklyDigest(deps, job)), { retryDelayMs });
  if (cfg.cron) ctx.scheduler.add({ name: 'followups:reminders', cron: cfg.cron, run: async (slot) => void (await queueOverdueReminders(deps, slot)) });
  if (cfg.digestCron) ctx.scheduler.add({ name: 'followups:digest', cron: cfg.digestCron, run: (slot) => queueWeeklyDigest(deps, slot) });
  return { name: 'followup-reminders' };
}
