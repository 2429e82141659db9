import { z } from 'zod';

/** Service names appear in commands, dedup keys and env var names: keep them plain. */
export const SERVICE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const pagedServiceSchema = z.object({
  /**
   * Env var holding this service's Events API v2 routing key. Default
   * PAGERDUTY_ROUTING_KEY_<NAME> (upper case, `-` becomes `_`). Routing keys are secrets:
   * only the variable's name is configured here, never the key.
   */
  routingKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as PAGERDUTY_ROUTING_KEY_PAYMENTS').optional(),
  /** PagerDuty escalation policy id (e.g. PABC123) that `/incident oncall <service>` lists. */
  escalationPolicyId: z.string().regex(/^[A-Z0-9]+$/, 'a PagerDuty id such as PABC123').optional(),
  description: z.string().optional(),
});
export type PagedServiceConfig = z.infer<typeof pagedServiceSchema>;

/** PagerDuty settings. Secrets (routing keys, API token, webhook secrets) come from the environment only. */
export const pagingConfigSchema = z
  .object({
    /** Default Events API v2 routing key (env PAGERDUTY_ROUTING_KEY): pages the `default` service. */
    routingKey: z.string().min(1).optional(),
    /** REST API token for /incident oncall (env PAGERDUTY_API_TOKEN). */
    apiToken: z.string().min(1).optional(),
    /** Webhook v3 signing secrets, comma separated in env PAGERDUTY_WEBHOOK_SECRETS (several during rotation). */
    webhookSecrets: z.array(z.string().min(1)).default([]),
    /** Services that can be paged besides `default`, by name. An incident's `service` picks its entry. */
    services: z
      .record(z.string().regex(SERVICE_NAME, 'a service name: lower case letters, digits, - and _'), pagedServiceSchema)
      .default({}),
    /** Escalation policy for `/incident oncall` of the `default` service (all on-calls when unset). */
    defaultEscalationPolicyId: z.string().regex(/^[A-Z0-9]+$/, 'a PagerDuty id such as PABC123').optional(),
    /** Start of every dedup key; give each Firebreak installation sharing a PagerDuty account its own. */
    dedupKeyPrefix: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)').default('firebreak'),
    /** `payload.source` of every event. */
    source: z.string().min(1).max(255).default('firebreak'),
    /** Hosts, for PagerDuty's EU service region (events.eu.pagerduty.com, api.eu.pagerduty.com). */
    eventsHost: z.string().min(1).default('events.pagerduty.com'),
    apiHost: z.string().min(1).default('api.pagerduty.com'),
    delivery: z
      .object({
        /** Calls to the Events API per page before giving up and showing the Retry paging button. */
        attempts: z.number().int().min(1).max(10).default(4),
        /** Each call is abandoned (and its connection cancelled) after this long. */
        timeoutSeconds: z.number().positive().max(60).default(10),
        /** First backoff after a 5xx/429/network error; doubles each attempt up to maxBackoffSeconds. */
        backoffSeconds: z.number().min(0).default(1),
        maxBackoffSeconds: z.number().min(0).default(30),
        /** Longest Retry-After we wait; a longer one is capped (a page must not wait minutes). */
        maxRetryAfterSeconds: z.number().min(0).default(30),
        /** pdjs itself re-sends a 429 three times this far apart (its default is 20 s). */
        rateLimitPauseSeconds: z.number().min(0).max(10).default(2),
      })
      .prefault({}),
  })
  .prefault({});
export type PagingConfig = z.infer<typeof pagingConfigSchema>;
