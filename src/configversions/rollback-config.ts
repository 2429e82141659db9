import { z } from 'zod';

/**
 * `configChanges.rollback`: the watchdog that rolls a configuration switch back on its own when
 * this replica's error signals rise right after it (src/configversions/rollback-watch.ts).
 */
export const rollbackConfigSchema = z
  .strictObject({
    /** Off: switches are never rolled back automatically (`/config rollback` still works). */
    enabled: z.boolean().default(true),
    /** How long after a switch errors are blamed on the new version, in seconds. */
    windowSeconds: z.number().int().min(10).max(3600).default(120),
    /**
     * Errors tolerated in the window (failed Slack calls + failed job attempts + receiver 5xx +
     * failed readiness probes, counted since the switch); one more rolls the version back.
     */
    maxErrors: z.number().int().min(0).max(100_000).default(5),
    /** How often the signals are sampled during the window, in seconds. */
    checkEverySeconds: z.number().min(0.1).max(300).default(5),
  })
  .superRefine((c, ctx) => {
    if (c.checkEverySeconds > c.windowSeconds) {
      ctx.addIssue({ code: 'custom', path: ['checkEverySeconds'], message: `checkEverySeconds (${c.checkEverySeconds}) must not exceed windowSeconds (${c.windowSeconds}): the window would end before the first check` });
    }
  })
  .prefault({});

export type RollbackConfig = z.infer<typeof rollbackConfigSchema>;
