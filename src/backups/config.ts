import { z } from 'zod';

export const backupsConfigSchema = z.object({}).passthrough().prefault({});
export type BackupsConfig = z.infer<typeof backupsConfigSchema>;
