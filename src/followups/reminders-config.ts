import { z } from 'zod';
import cron from 'node-cron';

const cronExpression = z.string().refine((s) => cron.validate(s), 'a node-cron expression (5 or 6 fields), e.g. "0 9 * * 1"');

/**
 * When overdue follow-ups are reminded to their owners and the weekly digest is posted
 * (src/followups/overdue.ts). Both run through the scheduler (once per slot across replicas)
 * and at most once per ISO week whatever the cron says: the week is part of their keys.
 */
export const followupRemindersConfigSchema = z
  .object({
    /** node-cron, UTC. Default: Mondays 09:00. '' turns the owner reminders off. */
    cron: z.union([z.literal(''), cronExpression]).default('0 9 * * 1'),
    /** node-cron, UTC: the digest to `incidents.channel`. Default: Mondays 09:00. '' turns it off. */
    digestCron: z.union([z.literal(''), cronExpression]).default('0 9 * * 1'),
  })
  .strict()
  .prefault({});
export type FollowupRemindersConfig = z.infer<typeof followupRemindersConfigSchema>;
