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
import { pitrConfigSchema } from '../pitr/config.js';
import { statusPageConfigSchema } from '../statuspage/config.js';
import { followupsConfigSchema } from '../followups/config.js';
import { rollbackConfigSchema } from '../configversions/rollback-config.js';
import { isLoopback } from '../http/loopback.js';

/** The whole configuration. Each area owns its section's schema next to its code. */
export const configSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /**
   * Address the HTTP server binds to. Unset: 127.0.0.1 in console mode (the console is for this
   * machine), every interface in Slack HTTP mode (Slack must reach /slack/events).
   */
  host: z.string().min(1).optional(),
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
  /** Physical backups and point-in-time recovery through pgBackRest (src/pitr). */
  pitr: pitrConfigSchema,
  /** The public status page fed from Slack through the change gate (src/statuspage). */
  statusPage: statusPageConfigSchema,
  /** Follow-ups and their export to GitHub Issues or Jira (src/followups). */
  followups: followupsConfigSchema,
  /** Configuration as a change: automatic rollback after a switch (src/configversions). */
  configChanges: z.object({ rollback: rollbackConfigSchema }).prefault({}),
  /** The local console (no Slack tokens): who can act in it and which channels exist. */
  console: consoleConfigSchema,
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export type ChatMode = 'console' | 'slack-http' | 'slack-socket';

/**
 * How Firebreak talks to people, decided from which Slack secrets are present. Only call it on
 * a configuration that passed `slackModeProblem` (loadConfig does): a partial Slack set is an
 * error there, never a fall back to the console.
 */
export function chatMode(c: Config): ChatMode {
  if (c.slack.botToken && c.slack.appToken) return 'slack-socket';
  if (c.slack.botToken && c.slack.signingSecret) return 'slack-http';
  return 'console';
}

/**
 * Why the Slack credentials form no complete set, naming the variables still missing; undefined
 * when they are complete (bot token + signing secret, or bot token + app token) or all absent.
 */
export function slackModeProblem(c: Config): string | undefined {
  const { botToken, signingSecret, appToken } = c.slack;
  const set = [botToken && 'SLACK_BOT_TOKEN', signingSecret && 'SLACK_SIGNING_SECRET', appToken && 'SLACK_APP_TOKEN'].filter(Boolean) as string[];
  if (set.length === 0) return undefined;
  if (botToken && (signingSecret || appToken)) return undefined;
  const missing = botToken ? 'SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)' : 'SLACK_BOT_TOKEN';
  return `Slack mode is incomplete: ${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set but ${missing} is missing. Set the missing variable, or unset every SLACK_* secret to run the local console.`;
}

/** Whether the local console is served: on its own, or alongside Slack when console.withSlack says so. */
export function consoleServed(c: Config): boolean {
  return chatMode(c) === 'console' || c.console.withSlack;
}

/** Where the HTTP server listens: `host` when set, else loopback for the console and every interface for Slack. */
export function listenHost(c: Config): string | undefined {
  return c.host ?? (chatMode(c) === 'console' ? '127.0.0.1' : undefined);
}

/** Settings that are valid but weaken a safe default; `config check` prints them and start logs them. */
export function configWarnings(c: Config): string[] {
  const out: string[] = [];
  if (c.alerts.receivers.sns.allowAnyTopic) {
    out.push('alerts.receivers.sns.allowAnyTopic is true: any AWS account can create a topic, subscribe Firebreak and post signed alerts. List your topics in alerts.receivers.sns.topicArns instead.');
  }
  if (c.host && chatMode(c) === 'console' && !isLoopback(c.host)) {
    out.push(`host is ${c.host}: the console is reachable from other machines.`);
  }
  return out;
}
