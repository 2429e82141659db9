import { z } from 'zod';

export const approvalsConfigSchema = z.object({}).passthrough().prefault({});
export type ApprovalsConfig = z.infer<typeof approvalsConfigSchema>;
