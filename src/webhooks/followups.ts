/**
 * Tracker webhooks that bring follow-up state back: POST /webhooks/github (issues closed or
 * reopened, X-Hub-Signature-256) and POST /webhooks/jira (issue updated, X-Hub-Signature when
 * the webhook has a secret). Signature first (constant time; no secret configured = 401),
 * then a zod-checked body. Bad input is a 4xx; an issue Firebreak did not make is 202
 * ignored; a redelivery changes nothing.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { json, problem, type HttpRequest, type HttpResponse, type Route } from '../http/router.js';
import { sameSecret } from './auth.js';
import { parseJsonBody } from './parse.js';
import type { FollowupService } from '../followups/service.js';
import type { TrackerKind } from '../followups/model.js';
import type { IssueState } from '../followups/tracker-state.js';

export const GITHUB_WEBHOOK_PATH = '/webhooks/github';
export const JIRA_WEBHOOK_PATH = '/webhooks/jira';
const MAX_BODY = 1024 * 1024;

const header = (req: HttpRequest, name: string): string => {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

/** `sha256=<hex>` over the raw body, as GitHub (X-Hub-Signature-256) and Jira (X-Hub-Signature) send it. */
export function verifyHubSignature(body: Buffer, offered: string, secret: string): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return sameSecret(offered.trim().toLowerCase(), expected);
}

const githubIssuesEvent = z.object({
  action: z.string().max(64),
  issue: z.object({
    number: z.number().int().positive(), state: z.enum(['open', 'closed']), html_url: z.string().max(2048).optional(),
    // Signed with the body: orders this event against the state already applied (replays).
    updated_at: z.iso.datetime({ offset: true }).optional(),
  }),
  repository: z.object({ full_name: z.string().regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/) }),
});

const jiraIssueEvent = z.object({
  webhookEvent: z.string().max(64),
  /** Epoch milliseconds of the event, signed with the body: orders it against the state already applied. */
  timestamp: z.number().int().positive().optional(),
  changelog: z.object({ items: z.array(z.object({ field: z.string().max(255).optional(), fieldId: z.string().max(255).optional() }).passthrough()).max(1000) }).passthrough().optional(),
  issue: z.object({
    key: z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/),
    fields: z.object({ status: z.object({ statusCategory: z.object({ key: z.string().max(64) }) }) }),
  }),
});

function signed(req: HttpRequest, tracker: string, secret: string | undefined, headerName: string, envName: string, log: Logger): HttpResponse | undefined {
  if (!secret) {
    log.warn({ requestId: req.requestId }, `${tracker} webhook refused: ${envName} is not set`);
    return problem(401, 'unauthorized', `The ${tracker} webhook secret is not configured (${envName}).`);
  }
  const offered = header(req, headerName);
  if (!offered) return problem(401, 'missing_signature', `${tracker} webhooks must carry ${headerName} (set the webhook's secret).`);
  if (!verifyHubSignature(req.body, offered, secret)) {
    log.warn({ requestId: req.requestId }, `${tracker} webhook with a wrong signature refused`);
    return problem(401, 'invalid_signature', `${headerName} does not match the body.`);
  }
  return undefined;
}

async function apply(req: HttpRequest, followups: FollowupService, log: Logger, tracker: TrackerKind, key: string, state: IssueState): Promise<HttpResponse> {
  try {
    const outcome = await followups.trackerState(tracker, key, state);
    if (outcome === 'unknown') return json(202, { status: 'ignored', reason: 'not a Firebreak follow-up' });
    return json(200, { status: outcome });
  } catch (err) {
    // Storage, not input: the tracker retries a 5xx (and the poll catches it anyway).
    log.error({ err, requestId: req.requestId, tracker, key }, 'follow-up state from a tracker webhook could not be stored');
    return { ...problem(503, 'temporarily_unavailable', `Could not record it right now; retry. Request id ${req.requestId}.`), headers: { 'retry-after': '5' } };
  }
}

export function followupWebhookRoutes(followups: FollowupService, secrets: { github?: string; jira?: string }, log: Logger): Route[] {
  const github: Route = {
    method: 'POST', path: GITHUB_WEBHOOK_PATH, maxBodyBytes: MAX_BODY,
    handle: async (req) => {
      const denied = signed(req, 'GitHub', secrets.github, 'x-hub-signature-256', 'GITHUB_WEBHOOK_SECRET', log);
      if (denied) return denied;
      const event = header(req, 'x-github-event');
      if (event === 'ping') return json(200, { status: 'pong' });
      if (event !== 'issues') return json(202, { status: 'ignored', reason: `event ${event || '(none)'} is not followed` });
      const p = parseJsonBody(req, githubIssuesEvent);
      if (!p.ok) return p.response;
      const { action, issue, repository } = p.value;
      if (action !== 'closed' && action !== 'reopened') return json(202, { status: 'ignored', reason: `action ${action} is not followed` });
      const at = issue.updated_at ? { at: new Date(issue.updated_at) } : {};
      return apply(req, followups, log, 'github', `${repository.full_name.toLowerCase()}#${issue.number}`, { closed: action === 'closed', ...at });
    },
  };
  const jira: Route = {
    method: 'POST', path: JIRA_WEBHOOK_PATH, maxBodyBytes: MAX_BODY,
    handle: async (req) => {
      const denied = signed(req, 'Jira', secrets.jira, 'x-hub-signature', 'JIRA_WEBHOOK_SECRET', log);
      if (denied) return denied;
      const p = parseJsonBody(req, jiraIssueEvent);
      if (!p.ok) return p.response;
      const { webhookEvent, issue, timestamp, changelog } = p.value;
      if (webhookEvent !== 'jira:issue_updated') return json(202, { status: 'ignored', reason: `event ${webhookEvent} is not followed` });
      const closed = issue.fields.status.statusCategory.key === 'done';
      // Any edit or comment is an issue_updated: only a status change may open a follow-up again
      // (one marked done in Firebreak while its issue stayed open would reopen on every comment).
      const statusChanged = changelog?.items.some((i) => i.fieldId === 'status' || i.field === 'status') ?? false;
      if (!closed && !statusChanged) return json(202, { status: 'ignored', reason: 'not a status change' });
      return apply(req, followups, log, 'jira', issue.key, { closed, ...(timestamp ? { at: new Date(timestamp) } : {}) });
    },
  };
  return [github, jira];
}
