import { z } from 'zod';
import { parseDuration } from '../alerts/matchers.js';

const positive = z.string().superRefine((s, ctx) => {
  try {
    if (parseDuration(s) <= 0) ctx.addIssue({ code: 'custom', message: `"${s}" must be longer than zero` });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** `/alerts maintenance`: which windows need the change gate. */
export const maintenanceConfigSchema = z
  .object({
    /**
     * Services whose maintenance windows go through the change gate (kind `maintenance.start`,
     * policy in approvals.actions; `preApproved: true` makes it a standard change that starts at
     * once, still recorded). A window is on a service when its matchers test the service label
     * (alerts.incidentServiceLabel) for it.
     */
    productionServices: z.array(z.string().min(1)).default([]),
    /** Longest window. */
    maxDuration: positive.default('7d'),
  })
  .strict()
  .prefault({});
