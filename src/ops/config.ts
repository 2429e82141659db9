import { z } from 'zod';
import cron from 'node-cron';

const cronExpression = z.string().refine((s) => cron.validate(s), 'a node-cron expression (5 or 6 fields), e.g. "17 * * * *"');

/** Running Firebreak itself: probes, shutdown, scheduler lease, runbooks, the ops channel. */
export const opsConfigSchema = z
  .object({
    /** Channel (name or id) for Firebreak's own alerts: failed backups, failed drills. */
    channel: z.string().default('ops'),
    /** Seconds a graceful shutdown waits for in-flight work. */
    shutdownBudgetSeconds: z.number().positive().default(30),
    /**
     * Seconds between readiness turning 503 and the listener closing, so load balancers stop
     * sending new requests before connections are refused. Counted inside the budget.
     */
    drainDelaySeconds: z.number().min(0).default(0),
    /** Directory of Markdown runbooks served by /runbook and GET /runbooks/<name>. */
    runbooksDir: z.string().default('runbooks'),
    /** Readiness checks whose failure makes /health/ready answer 503; the others only report. */
    requiredChecks: z.array(z.string()).default(['database']),
    /** Seconds a readiness check may take before it counts as down. */
    checkTimeoutSeconds: z.number().positive().default(2),
    /** Seconds the chat surface's auth check is cached, so probes don't spend Slack rate limit. */
    chatCheckCacheSeconds: z.number().min(0).default(60),
    /** Seconds the object store check (S3 HeadBucket or local directory) is cached. */
    objectStoreCheckCacheSeconds: z.number().min(0).default(30),
    scheduler: z
      .object({
        /** A dead leader's lease expires after this long; a survivor then takes the schedules. */
        leaseTtlSeconds: z.number().positive().default(30),
        /** How often the leader renews (and followers try to take) the lease. */
        renewSeconds: z.number().positive().default(10),
        /** A slot whose time passed with no leader is still run if it is at most this old; older ones are reported missed. */
        catchUpSeconds: z.number().min(0).default(3600),
      })
      .prefault({}),
    /** Housekeeping: delete old idempotency keys and finished jobs. */
    housekeeping: z
      .object({
        cron: cronExpression.default('23 * * * *'),
        /** Idempotency keys and finished jobs older than this many days are deleted. */
        keepDays: z.number().positive().default(14),
      })
      .prefault({}),
  })
  .prefault({})
  .refine((o) => o.scheduler.renewSeconds < o.scheduler.leaseTtlSeconds, {
    message: 'ops.scheduler.renewSeconds must be shorter than ops.scheduler.leaseTtlSeconds, or the lease lapses between renewals',
    path: ['scheduler', 'renewSeconds'],
  });
export type OpsConfig = z.infer<typeof opsConfigSchema>;
