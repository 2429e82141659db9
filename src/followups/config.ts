import { z } from 'zod';
import { followupRemindersConfigSchema } from './reminders-config.js';

/** A chat user id (Slack `U…`/`W…`) as the key of a tracker user map. */
const chatUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a chat user id such as U0123ABCD');

const githubSchema = z
  .object({
    /** Repository the follow-ups become issues in: `owner/repo`. */
    owner: z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'a GitHub user or organisation name').optional(),
    repo: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a GitHub repository name').optional(),
    labels: z.array(z.string().min(1).max(50)).default(['follow-up']),
    /** Chat user id -> GitHub login, for the issue's assignee. */
    users: z.record(chatUserId, z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'a GitHub login')).default({}),
    /** GitHub Enterprise Server: https://ghe.example.com/api/v3. */
    apiUrl: z.string().url().default('https://api.github.com'),
    /** Env GITHUB_TOKEN: a token that may create issues in the repository. */
    token: z.string().min(1).optional(),
    /** Env GITHUB_WEBHOOK_SECRET: the secret of the repository webhook (X-Hub-Signature-256). */
    webhookSecret: z.string().min(1).optional(),
  })
  .prefault({});

const jiraSchema = z
  .object({
    /** Jira Cloud site, e.g. https://acme.atlassian.net. */
    site: z.string().url().regex(/^https:\/\//, 'an https:// URL such as https://acme.atlassian.net').optional(),
    /** The Atlassian account e-mail the API token belongs to (basic auth user). */
    email: z.string().email().optional(),
    projectKey: z.string().regex(/^[A-Z][A-Z0-9_]{0,49}$/, 'a Jira project key such as OPS').optional(),
    issueType: z.string().min(1).default('Task'),
    labels: z.array(z.string().regex(/^\S{1,255}$/, 'a Jira label (no spaces)')).default(['follow-up']),
    /** Chat user id -> Atlassian accountId, for the issue's assignee. */
    users: z.record(chatUserId, z.string().min(1).max(128)).default({}),
    /** Env JIRA_API_TOKEN. */
    apiToken: z.string().min(1).optional(),
    /** Env JIRA_WEBHOOK_SECRET: the webhook's secret (Jira signs with X-Hub-Signature). */
    webhookSecret: z.string().min(1).optional(),
  })
  .prefault({});

/**
 * Follow-ups (src/followups): where they are exported. `none` keeps them in Firebreak only.
 * A tracker chosen without all it needs is a configuration error naming what is missing.
 */
export const followupsConfigSchema = z
  .object({
    tracker: z.enum(['none', 'github', 'jira']).default('none'),
    /** How often open exported follow-ups are read back from the tracker (and failed exports retried). */
    pollMinutes: z.number().int().min(1).max(1440).refine((m) => m < 60 || m % 60 === 0, 'minutes under 60, or whole hours (60, 120, ... 1440)').default(15),
    /** Names this installation in issue markers (body marker, Jira label): two Firebreaks on one tracker stay apart. */
    markerPrefix: z.string().regex(/^[a-z0-9-]{1,30}$/, 'lower case letters, digits and -').default('firebreak'),
    github: githubSchema,
    jira: jiraSchema,
    /** The weekly overdue reminders and digest (src/followups/overdue.ts). */
    reminders: followupRemindersConfigSchema,
  })
  .superRefine((c, ctx) => {
    const need = (section: 'github' | 'jira', key: string, what: string) =>
      ctx.addIssue({ code: 'custom', path: [section, key], message: `is required when followups.tracker is ${section}: ${what}` });
    if (c.tracker === 'github') {
      if (!c.github.owner) need('github', 'owner', 'the owner of the repository issues go to');
      if (!c.github.repo) need('github', 'repo', 'the repository issues go to');
      if (!c.github.token) need('github', 'token', 'set GITHUB_TOKEN (or GITHUB_TOKEN_FILE)');
    }
    if (c.tracker === 'jira') {
      if (!c.jira.site) need('jira', 'site', 'the Jira Cloud site, e.g. https://acme.atlassian.net');
      if (!c.jira.email) need('jira', 'email', 'the account e-mail the API token belongs to');
      if (!c.jira.projectKey) need('jira', 'projectKey', 'the project issues are created in');
      if (!c.jira.apiToken) need('jira', 'apiToken', 'set JIRA_API_TOKEN (or JIRA_API_TOKEN_FILE)');
    }
  })
  .prefault({});
export type FollowupsConfig = z.infer<typeof followupsConfigSchema>;
