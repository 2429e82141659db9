import { z } from 'zod';

/** Where the audit chain's anchors are published, outside what the database role can rewrite. */
export const auditConfigSchema = z
  .object({
    /** Channel (name or id) where each anchor (head hash and row count) is posted. */
    channel: z.string().default('audit'),
    /** Cron (UTC) for publishing an anchor, once across replicas; empty = on demand only. */
    anchorCron: z.string().default('7 * * * *'),
  })
  .prefault({});
export type AuditConfig = z.infer<typeof auditConfigSchema>;
