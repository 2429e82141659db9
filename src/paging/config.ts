import { z } from 'zod';

/** PagerDuty settings. Secrets (routing key, API token) come from the environment only. */
export const pagingConfigSchema = z
  .object({
    /** Default Events API v2 routing key (env PAGERDUTY_ROUTING_KEY). */
    routingKey: z.string().min(1).optional(),
    /** REST API token for /incident oncall (env PAGERDUTY_API_TOKEN). */
    apiToken: z.string().min(1).optional(),
    /** Webhook v3 signing secrets, comma separated in env PAGERDUTY_WEBHOOK_SECRETS (several during rotation). */
    webhookSecrets: z.array(z.string().min(1)).default([]),
  })
  .prefault({});
export type PagingConfig = z.infer<typeof pagingConfigSchema>;
