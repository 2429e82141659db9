/**
 * The PagerDuty REST API v2 calls that act on an incident for a person: find their PagerDuty
 * user by e-mail, find the incident an Events API dedup key opened, and `PUT /incidents/{id}`
 * with their `From` header. Plain fetch on the configured API host; every call goes through
 * the paging delivery policy (429 and 5xx retried with back-off, Retry-After honoured).
 * Knows nothing about Slack or Firebreak's tables.
 */
import type { PagingConfig } from './config.js';
import { deliverWithRetries, policyFromConfig, type Sleep } from './delivery.js';
import { parseRetryAfter } from './pagerduty.js';
import type { AttemptResult } from './provider.js';

export interface PdUser {
  id: string;
  email: string;
  name: string;
}

export type IncidentChange =
  | { status: 'acknowledged' | 'resolved' }
  | { escalationLevel: number }
  | { assignUserIds: string[] }
  | { escalationPolicyId: string };

/** A REST failure, worded for the person who pressed the button. */
export class PagerDutyRestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PagerDutyRestError';
  }
}

const ID = /^[A-Z0-9]{2,20}$/;

function errorOf(body: unknown): string {
  const e = (body as { error?: { message?: unknown; errors?: unknown } } | undefined)?.error;
  const parts = [typeof e?.message === 'string' ? e.message : '', ...(Array.isArray(e?.errors) ? e.errors.filter((x): x is string => typeof x === 'string') : [])].filter(Boolean);
  return parts.join('; ');
}

export class PagerDutyRest {
  constructor(
    private cfg: PagingConfig,
    private now: () => Date,
    private sleep: Sleep,
    private doFetch: typeof fetch = fetch,
  ) {}

  configured(): boolean {
    return !!this.cfg.apiToken;
  }

  /** One call under the delivery policy; the JSON body of the 2xx answer. */
  private async call(method: string, path: string, opts: { from?: string; body?: unknown } = {}): Promise<unknown> {
    if (!this.cfg.apiToken) throw new PagerDutyRestError('PagerDuty REST API token is not configured (PAGERDUTY_API_TOKEN)');
    let answer: unknown;
    const outcome = await deliverWithRetries(
      async (signal): Promise<AttemptResult> => {
        let res: Response;
        try {
          res = await this.doFetch(`https://${this.cfg.apiHost}${path}`, {
            method, signal,
            headers: {
              accept: 'application/vnd.pagerduty+json;version=2', authorization: `Token token=${this.cfg.apiToken}`,
              ...(opts.body ? { 'content-type': 'application/json' } : {}), ...(opts.from ? { from: opts.from } : {}),
            },
            body: opts.body ? JSON.stringify(opts.body) : undefined,
          });
        } catch (e) {
          return { ok: false, retryable: true, error: (e as Error).message };
        }
        const text = await res.text();
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        if (res.ok) {
          answer = json;
          return { ok: true, status: res.status };
        }
        const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.now());
        const reason = errorOf(json) || text.slice(0, 200) || res.statusText;
        return { ok: false, retryable: res.status === 429 || res.status >= 500, status: res.status, error: `HTTP ${res.status}${reason ? `: ${reason}` : ''}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      },
      policyFromConfig(this.cfg.delivery),
      this.sleep,
    );
    if (!outcome.ok) throw new PagerDutyRestError(`PagerDuty answered ${outcome.lastError ?? 'with an error'}${outcome.attempts > 1 ? ` (after ${outcome.attempts} attempts)` : ''}`, outcome.status);
    return answer;
  }

  /** The PagerDuty user whose login e-mail is exactly this address (case-insensitive). */
  async userByEmail(email: string): Promise<PdUser | undefined> {
    const body = (await this.call('GET', `/users?query=${encodeURIComponent(email)}&limit=25`)) as { users?: { id?: string; email?: string; name?: string }[] } | undefined;
    const hit = (body?.users ?? []).find((u) => typeof u.email === 'string' && u.email.toLowerCase() === email.toLowerCase() && typeof u.id === 'string');
    return hit ? { id: hit.id!, email: hit.email!, name: hit.name ?? hit.email! } : undefined;
  }

  /** The open incident an Events API dedup key opened, if PagerDuty has one. */
  async incidentByKey(dedupKey: string): Promise<{ id: string; url?: string } | undefined> {
    const body = (await this.call('GET', `/incidents?incident_key=${encodeURIComponent(dedupKey)}`)) as { incidents?: { id?: string; html_url?: string }[] } | undefined;
    const hit = body?.incidents?.find((i) => typeof i.id === 'string' && ID.test(i.id));
    return hit ? { id: hit.id!, ...(hit.html_url ? { url: hit.html_url } : {}) } : undefined;
  }

  async updateIncident(incidentId: string, fromEmail: string, change: IncidentChange): Promise<void> {
    if (!ID.test(incidentId)) throw new PagerDutyRestError(`"${incidentId}" is not a PagerDuty incident id`);
    const incident: Record<string, unknown> = { type: 'incident_reference' };
    if ('status' in change) incident.status = change.status;
    if ('escalationLevel' in change) incident.escalation_level = change.escalationLevel;
    if ('assignUserIds' in change) incident.assignments = change.assignUserIds.map((id) => ({ assignee: { id, type: 'user_reference' } }));
    if ('escalationPolicyId' in change) incident.escalation_policy = { id: change.escalationPolicyId, type: 'escalation_policy_reference' };
    await this.call('PUT', `/incidents/${incidentId}`, { from: fromEmail, body: { incident } });
  }
}
