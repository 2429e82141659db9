import { z } from 'zod';

export const SEVERITIES = ['P0', 'P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];

const slackId = z.string().regex(/^[A-Z0-9]+$/, 'a Slack id such as U012ABC or S012ABC');

export const severityPolicySchema = z.object({
  /** Users invited to the incident channel at declare (Slack user ids). */
  responders: z.array(slackId).default([]),
  /** User groups whose members are invited (Slack subteam ids). */
  userGroups: z.array(slackId).default([]),
  /** Minutes between stakeholder updates; null means no reminders. */
  updateCadenceMinutes: z.number().int().positive().nullable(),
  /** Roles that must be filled; the headline nags until they are. */
  requiredRoles: z.array(z.enum(['commander', 'comms', 'tech'])).default(['commander']),
  /** Channels (names or ids) the declare is announced in, besides `incidents.channel`. */
  announce: z.array(z.string()).default([]),
  /** Comms templates posted into the incident channel at declare. */
  templates: z.array(z.enum(['internal', 'customer', 'executive'])).default(['internal']),
  /** Whether declaring at this severity pages on-call. */
  page: z.boolean().default(false),
});
export type SeverityPolicy = z.infer<typeof severityPolicySchema>;

/**
 * What a team writes for one severity: only the keys it changes. No defaults here, so
 * setting `responders` for P1 keeps P1's own cadence, roles, templates and paging.
 */
const severityOverrideSchema = z
  .object({
    responders: z.array(slackId),
    userGroups: z.array(slackId),
    updateCadenceMinutes: z.number().int().positive().nullable(),
    requiredRoles: z.array(z.enum(['commander', 'comms', 'tech'])),
    announce: z.array(z.string()),
    templates: z.array(z.enum(['internal', 'customer', 'executive'])),
    page: z.boolean(),
  })
  .partial()
  .strict();

const DEFAULT_POLICIES: Record<Severity, z.input<typeof severityPolicySchema>> = {
  P0: { updateCadenceMinutes: 15, requiredRoles: ['commander', 'comms', 'tech'], templates: ['internal', 'customer', 'executive'], page: true },
  P1: { updateCadenceMinutes: 30, requiredRoles: ['commander', 'comms', 'tech'], templates: ['internal', 'customer', 'executive'], page: true },
  P2: { updateCadenceMinutes: 60, requiredRoles: ['commander', 'tech'], templates: ['internal', 'customer'], page: true },
  P3: { updateCadenceMinutes: null, requiredRoles: ['commander'], templates: ['internal'], page: false },
  P4: { updateCadenceMinutes: null, requiredRoles: [], templates: ['internal'], page: false },
};

export const incidentsConfigSchema = z
  .object({
    /** Channel (name or id) where every declare is announced. */
    channel: z.string().default('incidents'),
    /** Incident channel name template: {date} is yyyymmdd, {slug} the title, {id} the incident number. */
    channelNameTemplate: z.string().default('inc-{date}-{slug}'),
    /** Directory of team overrides for the comms templates (see src/templates). */
    templatesDir: z.string().optional(),
    severities: z
      .object({
        P0: severityOverrideSchema.optional(),
        P1: severityOverrideSchema.optional(),
        P2: severityOverrideSchema.optional(),
        P3: severityOverrideSchema.optional(),
        P4: severityOverrideSchema.optional(),
      })
      .prefault({}),
    /** Seconds within which the same user declaring the same title is treated as a double submission. */
    duplicateWindowSeconds: z.number().int().nonnegative().default(120),
  })
  .prefault({})
  .transform((c) => ({
    ...c,
    severities: Object.fromEntries(
      SEVERITIES.map((s) => [s, severityPolicySchema.parse({ ...DEFAULT_POLICIES[s], ...(c.severities[s] ?? {}) })]),
    ) as Record<Severity, SeverityPolicy>,
  }));
export type IncidentsConfig = z.infer<typeof incidentsConfigSchema>;
