import { z } from 'zod';
import { incidentsConfigSchema } from '../incidents/config.js';
import { pagingConfigSchema } from '../paging/config.js';
import { alertsConfigSchema } from '../alerts/config.js';
import { backupsConfigSchema } from '../backups/config.js';
import { drConfigSchema } from '../dr/config.js';
import { approvalsConfigSchema } from '../approvals/config.js';
import { opsConfigSchema } from '../ops/config.js';
import { consoleConfigSchema } from '../console/config.js';
import { auditConfigSchema } from '../audit/config.js';

/** The whole configuration. Each area owns its section's schema next to its code. */
export const configSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /** PostgreSQL for Firebreak's own state. Absent: an embedded server under dataDir. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// connection URL').optional(),
  /**
   * The role the application connects as when it is not the owner (least privilege):
   * `firebreak migrate` grants it exactly what it needs after applying migrations.
   */
  databaseAppRole: z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'a PostgreSQL role name').optional(),
  /** Where the embedded PostgreSQL and the local object store keep their files. */
  dataDir: z.string().default('.data'),
  /** Base URL people reach Firebreak at (links in messages); defaults to http://localhost:PORT. */
  publicUrl: z.string().url().optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  slack: z
    .object({
      botToken: z.string().startsWith('xoxb-', 'a bot token starting with xoxb-').optional(),
      signingSecret: z.string().min(8, 'the app signing secret').optional(),
      appToken: z.string().startsWith('xapp-', 'an app-level token starting with xapp-').optional(),
      apiUrl: z.string().url().default('https://slack.com/api/'),
      /** Seconds each Web API call may take before it is abandoned. */
      timeoutSeconds: z.number().positive().default(10),
    })
    .prefault({}),
  incidents: incidentsConfigSchema,
  paging: pagingConfigSchema,
  alerts: alertsConfigSchema,
  backups: backupsConfigSchema,
  dr: drConfigSchema,
  approvals: approvalsConfigSchema,
  ops: opsConfigSchema,
  audit: auditConfigSchema,
  /** The local console (no Slack tokens): who can act in it and which channels exist. */
  console: consoleConfigSchema,
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** How Firebreak talks to people, decided from which Slack secrets are present. */
export function chatMode(c: Config): 'console' | 'slack-http' | 'slack-socket' {
  if (c.slack.botToken && c.slack.appToken) return 'slack-socket';
  if (c.slack.botToken && c.slack.signingSecret) return 'slack-http';
  return 'console';
}
