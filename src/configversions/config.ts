import { z } from 'zod';

/** How replicas follow the active configuration version (src/configversions/watcher.ts). */
export const configChangesConfigSchema = z
  .object({
    /** Seconds between checks of the active version, besides LISTEN/NOTIFY (which is immediate). */
    checkIntervalSeconds: z.number().int().min(1).max(3600).default(30),
  })
  .prefault({});
export type ConfigChangesConfig = z.infer<typeof configChangesConfigSchema>;
