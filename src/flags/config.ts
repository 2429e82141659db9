import { z } from 'zod';

/**
 * One feature flag: on for everyone (`enabled: true`), off, or on for a stable `percentage`
 * of users or channels (`by`), for rolling new behaviour out gradually. Read through the
 * versioned configuration, so turning a flag is an approved, audited, reversible change.
 */
export const flagSchema = z.strictObject({
  description: z.string().max(300).optional(),
  /** true: on for everyone (unless `percentage` narrows it); false: off for everyone. */
  enabled: z.boolean().optional(),
  /** 0-100: on for this share of `by` ids, the same ids each time. */
  percentage: z.number().min(0).max(100).optional(),
  /** What the percentage is of (default user). */
  by: z.enum(['user', 'channel']).optional(),
});
export type Flag = z.infer<typeof flagSchema>;

export const flagsConfigSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'a flag name: lower case letters, digits, _ . -'), flagSchema)
  .default({});
export type FlagsConfig = z.infer<typeof flagsConfigSchema>;
