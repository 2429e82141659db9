/**
 * Jira Cloud (REST v3): create an issue in a project with a type, labels and an assignee
 * (accountId), find the one a lost reply made (JQL on a per-follow-up label), read its state.
 * Basic auth with the account e-mail and an API token. Every answer is validated.
 */
import { z } from 'zod';
import type { FollowupsConfig } from './config.js';
import { followupMarker, type Followup } from './model.js';
import { callJson, TrackerError, type IssueText, type Tracker, type TrackerIssue } from './tracker.js';

const statusSchema = z.object({ statusCategory: z.object({ key: z.string() }) });
// Jira dates look like 2026-03-02T10:00:01.000+0000 (no colon in the offset), which Date parses.
const jiraDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'a date').transform((s) => new Date(s));
const issueSchema = z.object({ key: z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/), fields: z.object({ status: statusSchema, updated: jiraDate.optional() }).optional() });
const searchSchema = z.object({ issues: z.array(issueSchema) });
const createdSchema = z.object({ id: z.string(), key: z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/) });

const errorMessage = (body: unknown): string => {
  const b = body as { errorMessages?: unknown; errors?: unknown } | undefined;
  const parts = [
    ...(Array.isArray(b?.errorMessages) ? b.errorMessages.filter((x): x is string => typeof x === 'string') : []),
    ...(b?.errors && typeof b.errors === 'object' ? Object.entries(b.errors as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`) : []),
  ];
  return parts.join('; ').slice(0, 200) || 'no message';
};

/** Atlassian Document Format: one paragraph per line of the Markdown body. */
function adf(text: string): unknown {
  return {
    type: 'doc', version: 1,
    content: text.split('\n').filter((l) => l.trim()).map((l) => ({ type: 'paragraph', content: [{ type: 'text', text: l }] })),
  };
}

export class JiraTracker implements Tracker {
  readonly kind = 'jira' as const;
  private readonly site: string;

  constructor(
    private cfg: FollowupsConfig['jira'] & { site: string; email: string; projectKey: string; apiToken: string },
    private markerPrefix: string,
    private doFetch: typeof fetch = fetch,
    private timeoutMs = 10_000,
  ) {
    this.site = cfg.site.replace(/\/+$/, '');
  }

  private headers(): Record<string, string> {
    return { accept: 'application/json', authorization: `Basic ${Buffer.from(`${this.cfg.email}:${this.cfg.apiToken}`).toString('base64')}` };
  }

  private issue(key: string, statusCategory: string | undefined, updatedAt?: Date): TrackerIssue {
    return { key, url: `${this.site}/browse/${key}`, closed: statusCategory === 'done', ...(updatedAt ? { updatedAt } : {}) };
  }

  private refused(what: string, status: number, body: unknown): TrackerError {
    return new TrackerError(`Jira refused to ${what} in project ${this.cfg.projectKey} (${status}: ${errorMessage(body)})`, false, status);
  }

  assigneeOf(userId: string | null): string | undefined {
    return userId ? this.cfg.users[userId] : undefined;
  }

  async find(f: Followup): Promise<TrackerIssue | undefined> {
    const jql = `project = "${this.cfg.projectKey}" AND labels = "${followupMarker(this.markerPrefix, f.id)}"`;
    const { status, body } = await callJson(this.doFetch, 'Jira', `${this.site}/rest/api/3/search/jql`, {
      method: 'POST', headers: this.headers(), body: { jql, fields: ['status'], maxResults: 5 }, timeoutMs: this.timeoutMs,
    });
    if (status !== 200) throw this.refused('search issues', status, body);
    const r = searchSchema.safeParse(body);
    if (!r.success) throw new TrackerError('Jira answered a search Firebreak does not understand', true);
    const found = r.data.issues[0];
    return found ? this.issue(found.key, found.fields?.status.statusCategory.key) : undefined;
  }

  async create(f: Followup, text: IssueText): Promise<TrackerIssue> {
    const accountId = this.assigneeOf(f.ownerUserId);
    const fields = {
      project: { key: this.cfg.projectKey },
      issuetype: { name: this.cfg.issueType },
      summary: text.title.slice(0, 255),
      description: adf(text.body),
      labels: [...this.cfg.labels, followupMarker(this.markerPrefix, f.id)],
      ...(accountId ? { assignee: { accountId } } : {}),
    };
    const { status, body } = await callJson(this.doFetch, 'Jira', `${this.site}/rest/api/3/issue`, { method: 'POST', headers: this.headers(), body: { fields }, timeoutMs: this.timeoutMs });
    if (status !== 201) throw this.refused('create an issue', status, body);
    const c = createdSchema.safeParse(body);
    if (!c.success) throw new TrackerError('Jira created the issue but answered something Firebreak does not understand; will look for it', true);
    return this.issue(c.data.key, 'new');
  }

  async state(key: string): Promise<TrackerIssue | undefined> {
    const { status, body } = await callJson(this.doFetch, 'Jira', `${this.site}/rest/api/3/issue/${encodeURIComponent(key)}?fields=status,updated`, { method: 'GET', headers: this.headers(), timeoutMs: this.timeoutMs });
    if (status === 404) return undefined;
    if (status !== 200) throw this.refused(`read ${key}`, status, body);
    const i = issueSchema.safeParse(body);
    if (!i.success) throw new TrackerError(`Jira answered ${key} in a shape Firebreak does not understand`, true);
    return this.issue(i.data.key, i.data.fields?.status.statusCategory.key, i.data.fields?.updated);
  }
}

