/**
 * GitHub Issues (REST v3): create an issue with labels and an assignee, find the one a lost
 * reply made (a hidden marker in its body), read its state. Every answer is validated.
 */
import { z } from 'zod';
import type { FollowupsConfig } from './config.js';
import { followupMarker, type Followup } from './model.js';
import { callJson, TrackerError, type IssueText, type Tracker, type TrackerIssue } from './tracker.js';

const issueSchema = z.object({
  number: z.number().int().positive(),
  html_url: z.string().url(),
  state: z.enum(['open', 'closed']),
  body: z.string().nullable().optional(),
  pull_request: z.unknown().optional(),
  updated_at: z.iso.datetime({ offset: true }).optional(),
});
type GitHubIssue = z.infer<typeof issueSchema>;

const errorMessage = (body: unknown): string => {
  const m = (body as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m.slice(0, 200) : 'no message';
};

export const bodyMarker = (prefix: string, id: number): string => `<!-- ${followupMarker(prefix, id)} -->`;

export class GitHubTracker implements Tracker {
  readonly kind = 'github' as const;
  private readonly base: string;

  constructor(
    private cfg: FollowupsConfig['github'] & { owner: string; repo: string; token: string },
    private markerPrefix: string,
    private doFetch: typeof fetch = fetch,
    private timeoutMs = 10_000,
  ) {
    this.base = `${cfg.apiUrl.replace(/\/+$/, '')}/repos/${encodeURIComponent(cfg.owner)}/${encodeURIComponent(cfg.repo)}`;
  }

  private headers(): Record<string, string> {
    return { accept: 'application/vnd.github+json', authorization: `Bearer ${this.cfg.token}`, 'x-github-api-version': '2022-11-28', 'user-agent': 'firebreak' };
  }

  private keyOf(n: number): string {
    // Lower case: GitHub names are case-insensitive and webhooks spell them as the repository does.
    return `${this.cfg.owner}/${this.cfg.repo}`.toLowerCase() + `#${n}`;
  }

  private issue(i: GitHubIssue): TrackerIssue {
    return { key: this.keyOf(i.number), url: i.html_url, closed: i.state === 'closed', ...(i.updated_at ? { updatedAt: new Date(i.updated_at) } : {}) };
  }

  private refused(what: string, status: number, body: unknown): TrackerError {
    return new TrackerError(`GitHub refused to ${what} in ${this.cfg.owner}/${this.cfg.repo} (${status}: ${errorMessage(body)})`, false, status);
  }

  assigneeOf(userId: string | null): string | undefined {
    return userId ? this.cfg.users[userId] : undefined;
  }

  /**
   * Issues updated since the follow-up was made, newest first, whose body carries its marker.
   * The list endpoint, not search: search is indexed later and would miss a just-made issue.
   */
  async find(f: Followup): Promise<TrackerIssue | undefined> {
    const since = new Date(f.createdAt.getTime() - 60_000).toISOString();
    const url = `${this.base}/issues?state=all&sort=created&direction=desc&per_page=100&since=${encodeURIComponent(since)}`;
    const { status, body } = await callJson(this.doFetch, 'GitHub', url, { method: 'GET', headers: this.headers(), timeoutMs: this.timeoutMs });
    if (status !== 200) throw this.refused('list issues', status, body);
    const list = z.array(issueSchema).safeParse(body);
    if (!list.success) throw new TrackerError('GitHub answered an issue list Firebreak does not understand', true);
    const marker = bodyMarker(this.markerPrefix, f.id);
    const found = list.data.find((i) => !i.pull_request && (i.body ?? '').includes(marker));
    return found ? this.issue(found) : undefined;
  }

  async create(f: Followup, text: IssueText): Promise<TrackerIssue> {
    const assignee = this.assigneeOf(f.ownerUserId);
    const payload = {
      title: text.title,
      body: `${text.body}\n\n${bodyMarker(this.markerPrefix, f.id)}`,
      labels: this.cfg.labels,
      ...(assignee ? { assignees: [assignee] } : {}),
    };
    const { status, body } = await callJson(this.doFetch, 'GitHub', `${this.base}/issues`, { method: 'POST', headers: this.headers(), body: payload, timeoutMs: this.timeoutMs });
    if (status !== 201) throw this.refused('create an issue', status, body);
    const i = issueSchema.safeParse(body);
    if (!i.success) throw new TrackerError('GitHub created the issue but answered something Firebreak does not understand; will look for it', true);
    return this.issue(i.data);
  }

  async state(key: string): Promise<TrackerIssue | undefined> {
    const n = /#(\d+)$/.exec(key)?.[1];
    if (!n) return undefined;
    const { status, body } = await callJson(this.doFetch, 'GitHub', `${this.base}/issues/${n}`, { method: 'GET', headers: this.headers(), timeoutMs: this.timeoutMs });
    if (status === 404 || status === 410) return undefined;
    if (status !== 200) throw this.refused(`read issue #${n}`, status, body);
    const i = issueSchema.safeParse(body);
    if (!i.success) throw new TrackerError(`GitHub answered issue #${n} in a shape Firebreak does not understand`, true);
    return this.issue(i.data);
  }
}
