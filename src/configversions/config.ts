import { z } from 'zod';
import { rollbackConfigSchema } from './rollback-config.js';

/** How replicas follow the active configuration version (src/configversions/watcher.ts). */
export const configChangesConfigSchema = z
  .object({
    /** Seconds between checks of the active version, besides LISTEN/NOTIFY (which is immediate). */
    checkIntervalSeconds: z.number().int().min(1).max(3600).default(30),
    /** Automatic rollback when errors rise after a switch (rollback-watch.ts). */
    rollback: rollbackConfigSchema,
  })
  .prefault({});
export type ConfigChangesConfig = z.infer<typeof configChangesConfigSchema>;
