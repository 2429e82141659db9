import { z } from 'zod';

export const drConfigSchema = z.object({}).passthrough().prefault({});
export type DrConfig = z.infer<typeof drConfigSchema>;
