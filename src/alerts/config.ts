import { z } from 'zod';

export const alertsConfigSchema = z.object({}).passthrough().prefault({});
export type AlertsConfig = z.infer<typeof alertsConfigSchema>;
