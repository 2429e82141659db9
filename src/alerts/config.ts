import { z } from 'zod';
import { SEVERITIES, type Severity } from '../incidents/config.js';
import { compileRegex, parseDuration, parseMatchers } from './matchers.js';
import { alertmanagersSchema, silencesConfigSchema } from '../silences/config.js';

/*
 * The routing part keeps Alertmanager's own field names (snake_case: group_by, group_wait,
 * match_re, ...) so a route tree can be copied from an alertmanager.yml; Firebreak's own
 * settings around it are camelCase like the rest of the config.
 */

/** One list entry; like Alertmanager's, it may hold several comma-separated matchers. */
const matcherText = z.string().superRefine((s, ctx) => {
  try {
    parseMatchers(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const regexText = z.string().superRefine((s, ctx) => {
  try {
    compileRegex(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(e as Error).message}` });
  }
});

export const durationText = z.string().superRefine((s, ctx) => {
  try {
    parseDuration(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** `match`/`match_re` maps: Alertmanager checks their keys against Prometheus' label name syntax. */
const byLabelName = <T extends z.ZodType<string>>(value: T) =>
  z.record(z.string(), value).superRefine((rec, ctx) => {
    for (const k of Object.keys(rec)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `invalid label name "${k}" (letters, digits and _, not starting with a digit)` });
    }
  });

/** As Alertmanager checks group_by: label names, or `...` alone; no name twice. */
const groupByList = z.array(z.string()).superRefine((names, ctx) => {
  if (names.includes('...') && names.length > 1) ctx.addIssue({ code: 'custom', message: "group_by ['...'] (all labels) cannot be combined with label names" });
  names.forEach((n, i) => {
    if (n !== '...' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n)) ctx.addIssue({ code: 'custom', path: [i], message: `invalid label name "${n}" in group_by` });
    if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `label "${n}" appears twice in group_by` });
  });
});

const severity = z.enum(SEVERITIES);

export interface RouteConfig {
  channel?: string;
  matchers?: string[];
  match?: Record<string, string>;
  match_re?: Record<string, string>;
  continue?: boolean;
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  mentions?: string[];
  auto_declare?: { severity: Severity; title?: string } | null;
  mute_time_intervals?: string[];
  active_time_intervals?: string[];
  escalate_after?: string;
  escalate_to?: EscalateTo | null;
  routes?: RouteConfig[];
}

/** Where an unacknowledged group escalates: exactly one of these. */
export interface EscalateTo {
  /** A paging service name (`default` or a key of paging.services): an Events API trigger. */
  pagerduty_service?: string;
  /** A mention posted in the group's thread: `<!subteam^S123>`, `<@U123>`, `@here`. */
  mention?: string;
  /** Declare an incident for the group at this severity. */
  declare?: Severity;
}

const escalateToSchema = z
  .object({ pagerduty_service: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a paging service name').optional(), mention: z.string().min(1).max(100).optional(), declare: z.enum(SEVERITIES).optional() })
  .strict()
  .refine((e) => [e.pagerduty_service, e.mention, e.declare].filter((x) => x !== undefined).length === 1, 'escalate_to takes exactly one of pagerduty_service, mention, declare');

const positiveDuration = z.string().superRefine((s, ctx) => {
  try {
    if (parseDuration(s) <= 0) ctx.addIssue({ code: 'custom', message: `"${s}" must be longer than zero` });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const routeSchema: z.ZodType<RouteConfig> = z.lazy(() =>
  z
    .object({
      /** Channel name (without #) or id the group message goes to. Inherited. */
      channel: z.string().min(1).optional(),
      matchers: z.array(matcherText).optional(),
      match: byLabelName(z.string()).optional(),
      match_re: byLabelName(regexText).optional(),
      continue: z.boolean().optional(),
      group_by: groupByList.optional(),
      group_wait: durationText.optional(),
      group_interval: durationText.optional(),
      repeat_interval: durationText.optional(),
      /** Who is mentioned in the first message: `@here`, `<!subteam^S123>`, `<@U123>`. Inherited. */
      mentions: z.array(z.string()).optional(),
      /** Declare an incident when a group on this route first notifies. Inherited; null turns it off below. */
      auto_declare: z.object({ severity, title: z.string().optional() }).strict().nullable().optional(),
      mute_time_intervals: z.array(z.string()).optional(),
      active_time_intervals: z.array(z.string()).optional(),
      /** Escalate a group nobody acknowledged (nor silenced, nor resolved) this long after its first post. Inherited. */
      escalate_after: positiveDuration.optional(),
      /** Where it escalates. Inherited; null turns escalation off below. */
      escalate_to: escalateToSchema.nullable().optional(),
      routes: z.array(routeSchema).optional(),
    })
    .strict(),
);

const timeRange = z
  .object({
    start_time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'HH:MM'),
    end_time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'HH:MM'),
  })
  .strict();

export const timeIntervalSchema = z
  .object({
    times: z.array(timeRange).optional(),
    /** `monday`, `monday:friday`. */
    weekdays: z.array(z.string()).optional(),
    /** `1`, `1:5`, `-1` (last day). */
    days_of_month: z.array(z.string()).optional(),
    /** `january`, `1:3`, `march:may`. */
    months: z.array(z.string()).optional(),
    /** `2026`, `2026:2027`. */
    years: z.array(z.string()).optional(),
    /** IANA zone the times are read in; default UTC. */
    location: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'an IANA time zone such as Europe/Berlin')
      .optional(),
  })
  .strict();
export type TimeIntervalConfig = z.infer<typeof timeIntervalSchema>;

const inhibitRuleSchema = z
  .object({
    source_matchers: z.array(matcherText).default([]),
    /** Alertmanager's legacy (deprecated) forms, accepted so a pasted alertmanager.yml works. */
    source_match: byLabelName(z.string()).optional(),
    source_match_re: byLabelName(regexText).optional(),
    target_matchers: z.array(matcherText).default([]),
    target_match: byLabelName(z.string()).optional(),
    target_match_re: byLabelName(regexText).optional(),
    equal: z.array(z.string()).default([]),
  })
  .strict()
  .superRefine((r, ctx) => {
    // Alertmanager would let an empty side match every alert; here that is taken for a mistake.
    const count = (list: string[], m?: object, re?: object) => list.filter((e) => e.trim() !== '').length + Object.keys(m ?? {}).length + Object.keys(re ?? {}).length;
    if (count(r.source_matchers, r.source_match, r.source_match_re) === 0) ctx.addIssue({ code: 'custom', path: ['source_matchers'], message: 'at least one matcher for the inhibiting alert' });
    if (count(r.target_matchers, r.target_match, r.target_match_re) === 0) ctx.addIssue({ code: 'custom', path: ['target_matchers'], message: 'at least one matcher for the inhibited alert' });
  });
export type InhibitRuleConfig = z.infer<typeof inhibitRuleSchema>;

const receiverAuth = {
  /** Expected `Authorization: Bearer <token>`. */
  bearerToken: z.string().min(8).optional(),
  /** Accept requests without credentials (only on a trusted network). */
  allowUnauthenticated: z.boolean().default(false),
};

export const alertsConfigSchema = z
  .object({
    receivers: z
      .object({
        alertmanager: z
          .object({
            ...receiverAuth,
            /** HTTP basic auth (Alertmanager's `http_config.basic_auth`). */
            basicUsername: z.string().optional(),
            basicPassword: z.string().min(8).optional(),
          })
          .prefault({}),
        grafana: z
          .object({
            ...receiverAuth,
            /** HMAC-SHA256 secret of Grafana's webhook contact point. */
            signatureSecret: z.string().min(8).optional(),
            signatureHeader: z.string().default('x-grafana-alerting-signature'),
            /** When Grafana is set to send a timestamp header, its name; the HMAC then covers `timestamp:body`. */
            timestampHeader: z.string().optional(),
          })
          .prefault({}),
        sns: z
          .object({
            /** Topic ARNs accepted. Empty (the default) refuses every SNS message. */
            topicArns: z.array(z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]{1,256}$/, 'an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:alarms')).default([]),
            /** Accept any topic whose signature verifies (any AWS account can sign one); `config check` warns. */
            allowAnyTopic: z.boolean().default(false),
          })
          .strict()
          .prefault({})
          .refine((s) => !(s.allowAnyTopic && s.topicArns.length > 0), { message: 'set either topicArns or allowAnyTopic: true, not both', path: ['allowAnyTopic'] }),
        generic: z.object({ ...receiverAuth }).prefault({}),
      })
      .prefault({}),
    /** Largest webhook body accepted (bytes). */
    maxBodyBytes: z.number().int().positive().default(5 * 1024 * 1024),
    /** Channel for alerts whose route names none. */
    defaultChannel: z.string().default('alerts'),
    route: routeSchema.default({}),
    time_intervals: z.array(z.object({ name: z.string().min(1), time_intervals: z.array(timeIntervalSchema) }).strict()).default([]),
    inhibit_rules: z.array(inhibitRuleSchema).default([]),
    /** Minimum time between two auto-declared incidents for the same alert group. */
    autoDeclareCooldown: durationText.default('1h'),
    /** An alert with this label set to an open incident's number joins that incident. */
    incidentLabel: z.string().default('firebreak_incident'),
    /** An alert whose label of this name equals an open incident's service joins it; null turns it off. */
    incidentServiceLabel: z.string().nullable().default('service'),
    /** Alert label read for the severity of a declared incident, and its mapping. */
    severityLabel: z.string().default('severity'),
    severityMap: z.record(z.string(), severity).default({ critical: 'P1', error: 'P2', warning: 'P3', info: 'P4' }),
    /** Severity of incidents declared from the button when the label maps to nothing. */
    defaultSeverity: severity.default('P3'),
    /** Slack messages per second per channel (Slack allows about 1). */
    postsPerSecondPerChannel: z.number().positive().max(10).default(1),
    /** Days a resolved alert is kept (then deleted, with groups left empty); the incident timeline keeps its own record. */
    retentionDays: z.number().int().min(1).default(30),
    /** Alerts listed in a group message before "and N more". */
    maxAlertsShown: z.number().int().min(1).max(40).default(15),
    /** Alertmanagers whose silences Firebreak creates, lists and expires (src/silences). */
    alertmanagers: alertmanagersSchema,
    silences: silencesConfigSchema,
  })
  .strict()
  .prefault({})
  .superRefine((c, ctx) => {
    const names = new Set(c.time_intervals.map((t) => t.name));
    const walk = (r: RouteConfig, path: string) => {
      for (const n of [...(r.mute_time_intervals ?? []), ...(r.active_time_intervals ?? [])]) {
        if (!names.has(n)) ctx.addIssue({ code: 'custom', path: ['route', ...path.split('.').filter(Boolean)], message: `time interval "${n}" is not defined in alerts.time_intervals` });
      }
      (r.routes ?? []).forEach((child, i) => walk(child, `${path}.routes.${i}`));
    };
    walk(c.route, '');
    const escalation = (r: RouteConfig, after: string | undefined, to: EscalateTo | null | undefined, path: (string | number)[]) => {
      const a = r.escalate_after ?? after;
      const t = r.escalate_to !== undefined ? r.escalate_to : to;
      if (a && !t) ctx.addIssue({ code: 'custom', path: ['route', ...path, 'escalate_after'], message: 'escalate_after needs escalate_to (here or on a parent route)' });
      (r.routes ?? []).forEach((child, i) => escalation(child, a, t, [...path, 'routes', i]));
    };
    escalation(c.route, undefined, undefined, []);
    if (c.route.mute_time_intervals?.length || c.route.active_time_intervals?.length) {
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'the root route cannot have mute or active time intervals (as in Alertmanager)' });
    }
    if ((c.route.matchers?.length ?? 0) + Object.keys(c.route.match ?? {}).length + Object.keys(c.route.match_re ?? {}).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'the root route matches every alert and cannot have matchers (as in Alertmanager)' });
    }
  });
export type AlertsConfig = z.infer<typeof alertsConfigSchema>;
