import { z } from 'zod';
import { parseDuration } from '../alerts/matchers.js';

const ALERT_SOURCES = ['alertmanager', 'grafana', 'sns', 'generic', 'pagerduty'] as const;
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as ALERTMANAGER_TOKEN');
const userId = z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id such as U012ABC');
const groupId = z.string().regex(/^S[A-Z0-9]+$/, 'a Slack user group id such as S012ABC');

const duration = z.string().superRefine((s, ctx) => {
  try {
    if (parseDuration(s) <= 0) ctx.addIssue({ code: 'custom', message: `"${s}" must be longer than zero` });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/**
 * One Alertmanager (or an HA pair/cluster: one entry, several URLs, since the peers gossip
 * silences to each other). Grafana's Alertmanager-compatible API is the same shape under
 * `https://grafana.example/api/alertmanager/grafana`. Credentials are read from the named
 * environment variables, never written in the file.
 */
export const alertmanagerTargetSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a short name: lower case letters, digits, - and _'),
    /** Base URLs (no /api/v2); tried in order, the next one when a peer is unreachable or answers 5xx. */
    urls: z.array(z.string().url().refine((u) => /^https?:\/\//.test(u), 'an http(s) URL')).min(1),
    /** Alert sources whose alerts this Alertmanager decides about (their silences live there). */
    sources: z.array(z.enum(ALERT_SOURCES)).min(1),
    /** Env var with a bearer token sent as `Authorization: Bearer …`. */
    bearerTokenEnv: envName.optional(),
    /** HTTP basic auth: user name here, password from the named env var. */
    basicUsername: z.string().min(1).optional(),
    basicPasswordEnv: envName.optional(),
    /**
     * What serves the API, for what people are told: `alertmanager` (Prometheus Alertmanager)
     * or `grafana` (Grafana-managed alerts: urls is `https://grafana.example/api/alertmanager/grafana`,
     * auth a service-account token in bearerTokenEnv).
     */
    kind: z.enum(['alertmanager', 'grafana']).default('alertmanager'),
    /** Seconds one API call may take. */
    timeoutSeconds: z.number().positive().max(30).default(5),
  })
  .strict()
  .refine((t) => !(t.bearerTokenEnv && (t.basicUsername || t.basicPasswordEnv)), { message: 'set bearerTokenEnv or basic auth, not both', path: ['bearerTokenEnv'] })
  .refine((t) => !t.basicUsername === !t.basicPasswordEnv, { message: 'basic auth needs both basicUsername and basicPasswordEnv', path: ['basicUsername'] });
export type AlertmanagerTarget = z.infer<typeof alertmanagerTargetSchema>;

export const alertmanagersSchema = z
  .array(alertmanagerTargetSchema)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Map<string, string>();
    list.forEach((t, i) => {
      if (list.findIndex((o) => o.name === t.name) !== i) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `the name "${t.name}" is used twice` });
      for (const s of t.sources) {
        const owner = seen.get(s);
        if (owner) ctx.addIssue({ code: 'custom', path: [i, 'sources'], message: `source "${s}" is already owned by alertmanager "${owner}"; a source has one Alertmanager` });
        seen.set(s, t.name);
      }
    });
  });

/** The Silence modal, `/alerts silence` and `/alerts silences`. */
export const silencesConfigSchema = z
  .object({
    /** Durations offered in the Silence modal (first one preselected). */
    presets: z.array(duration).min(1).max(10).default(['1h', '2h', '4h', '8h', '1d']),
    /** Longest silence Firebreak creates. */
    maxDuration: duration.default('30d'),
    /** How often silences made elsewhere (amtool, the Alertmanager UI) are read back, in seconds. */
    pollSeconds: z.number().int().min(5).max(3600).default(30),
    /**
     * Who may silence, unsilence and start or end maintenance: Slack user ids and user groups.
     * Both empty: every member of the workspace (as for approvals with no approvers listed).
     */
    allowedUsers: z.array(userId).default([]),
    allowedGroups: z.array(groupId).default([]),
  })
  .strict()
  .prefault({});
export type SilencesConfig = z.infer<typeof silencesConfigSchema>;
