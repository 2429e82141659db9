import { z } from 'zod';

/** Running Firebreak itself: shutdown budget, runbooks, the ops channel for Firebreak's own alerts. */
export const opsConfigSchema = z
  .object({
    /** Channel (name or id) for Firebreak's own alerts: failed backups, failed drills. */
    channel: z.string().default('ops'),
    /** Seconds a graceful shutdown waits for in-flight work. */
    shutdownBudgetSeconds: z.number().positive().default(30),
    /** Directory of Markdown runbooks served by /runbook. */
    runbooksDir: z.string().default('runbooks'),
  })
  .prefault({});
export type OpsConfig = z.infer<typeof opsConfigSchema>;
