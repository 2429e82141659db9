import { z } from 'zod';

const componentId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a lower-case id such as "api" or "checkout-web"');

export const statusComponentSchema = z.strictObject({
  /** Stable id used in the modal, the JSON and the Atlassian map. */
  id: componentId,
  /** What the public reads. */
  name: z.string().min(1).max(100),
  /** Heading the component is listed under (components without one come first). */
  group: z.string().min(1).max(100).optional(),
  description: z.string().max(300).optional(),
});
export type StatusComponentConfig = z.infer<typeof statusComponentSchema>;

/**
 * `statusPage`: the public status page (GET /status, /status.json, /status/feed.atom). Off
 * unless `enabled: true`: the routes are public and unauthenticated, so an operator turns
 * them on knowingly. What they show is only text approved through the change gate.
 */
export const statusPageConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** The page's heading and the feed's title. */
    title: z.string().min(1).max(100).default('Service status'),
    /** At most 90: each is one field of the Slack form, which holds 100 blocks. */
    components: z.array(statusComponentSchema).max(90).default([]),
    /** Cache-Control max-age of the public routes, in seconds (short: the page must be current). */
    maxAgeSeconds: z.number().int().min(0).max(300).default(30),
    /** Optional sync to Atlassian Statuspage after each approved publish. */
    atlassian: z
      .strictObject({
        /** The Statuspage page id (from its API settings). */
        pageId: z.string().regex(/^[a-z0-9]{4,40}$/, 'a Statuspage page id such as "kctbh9vrtdwd"').optional(),
        /** API key (STATUSPAGE_API_KEY or STATUSPAGE_API_KEY_FILE; never in the YAML file). */
        apiKey: z.string().min(8).optional(),
        /** Firebreak component id -> Statuspage component id; unmapped components are not sent. */
        components: z.record(componentId, z.string().regex(/^[a-z0-9]{4,40}$/, 'a Statuspage component id')).default({}),
        apiUrl: z.string().url().default('https://api.statuspage.io/v1'),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.components.forEach((comp, i) => {
      if (seen.has(comp.id)) ctx.addIssue({ code: 'custom', path: ['components', i, 'id'], message: `component id "${comp.id}" is listed twice` });
      seen.add(comp.id);
    });
    const a = c.atlassian;
    // A partial Atlassian set is an error naming what is missing, never a silently skipped sync.
    if (a.pageId && !a.apiKey) ctx.addIssue({ code: 'custom', path: ['atlassian', 'apiKey'], message: 'statusPage.atlassian.pageId is set but STATUSPAGE_API_KEY (or STATUSPAGE_API_KEY_FILE) is not' });
    if (a.apiKey && !a.pageId) ctx.addIssue({ code: 'custom', path: ['atlassian', 'pageId'], message: 'STATUSPAGE_API_KEY is set but statusPage.atlassian.pageId is not' });
    if (Object.keys(a.components).length && !a.pageId) ctx.addIssue({ code: 'custom', path: ['atlassian', 'pageId'], message: 'statusPage.atlassian.components is set but statusPage.atlassian.pageId is not' });
    for (const id of Object.keys(a.components)) {
      if (!seen.has(id)) ctx.addIssue({ code: 'custom', path: ['atlassian', 'components', id], message: `"${id}" is not a component in statusPage.components` });
    }
  })
  .prefault({});
export type StatusPageConfig = z.infer<typeof statusPageConfigSchema>;

/** Whether approved publishes are also sent to Atlassian Statuspage. */
export const atlassianSyncOn = (c: StatusPageConfig): boolean => !!(c.atlassian.pageId && c.atlassian.apiKey);
