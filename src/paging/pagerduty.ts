import { api, event } from '@pagerduty/pdjs';
import type { EventPayloadV2 } from '@pagerduty/pdjs/build/src/events.js';
import type { PagingConfig } from './config.js';
import { observePagerDutyCall } from '../ops/metrics.js';
import { PagingApiError, type AlertEvent, type AttemptResult, type OnCallEntry, type PagingProvider } from './provider.js';

/** Retry-After is seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

export function toEventPayload(e: AlertEvent): EventPayloadV2 {
  const base = { routing_key: e.routingKey, event_action: e.action, dedup_key: e.dedupKey } as const;
  if (e.action !== 'trigger' || !e.trigger) return base as unknown as EventPayloadV2;
  const t = e.trigger;
  return {
    ...base,
    payload: {
      summary: t.summary,
      source: t.source,
      severity: t.severity,
      timestamp: t.timestamp,
      ...(t.component ? { component: t.component } : {}),
      ...(t.group ? { group: t.group } : {}),
      ...(t.class ? { class: t.class } : {}),
      custom_details: t.customDetails,
    },
    links: t.links,
  };
}

const describeBody = (data: unknown): string => {
  if (data && typeof data === 'object') {
    const d = data as { message?: unknown; errors?: unknown; error?: { message?: unknown; errors?: unknown } };
    const parts = [d.message ?? d.error?.message, ...(Array.isArray(d.errors) ? d.errors : []), ...(Array.isArray(d.error?.errors) ? d.error.errors : [])];
    const text = parts.filter((p) => typeof p === 'string' && p).join('; ');
    if (text) return text;
  }
  return '';
};

/**
 * PagerDuty through @pagerduty/pdjs. pdjs resolves non-2xx answers instead of throwing, throws
 * on non-JSON bodies and network errors, retries 429 by itself, and its own timeout cancels
 * nothing; so every call here passes an AbortSignal (the real per-call timeout), disables
 * pdjs's timer, shortens its 429 pause, and classifies the outcome for our retry policy.
 */
export class PagerDutyProvider implements PagingProvider {
  constructor(
    private cfg: PagingConfig,
    private now: () => Date,
  ) {}

  async send(e: AlertEvent, signal: AbortSignal): Promise<AttemptResult> {
    const result = await this.sendOnce(e, signal);
    observePagerDutyCall('events', result.ok ? 'ok' : result.status === 429 ? 'rate_limited' : 'error');
    return result;
  }

  private async sendOnce(e: AlertEvent, signal: AbortSignal): Promise<AttemptResult> {
    try {
      const r = await event({
        data: toEventPayload(e),
        server: this.cfg.eventsHost,
        signal,
        requestTimeout: 0,
        retryTimeout: this.cfg.delivery.rateLimitPauseSeconds * 1000,
      });
      if (r.ok) return { ok: true, status: r.status };
      const detail = describeBody(r.data);
      const error = `PagerDuty answered ${r.status}${detail ? `: ${detail}` : ''}`;
      const retryable = r.status === 429 || r.status >= 500;
      const retryAfterMs = parseRetryAfter(r.headers?.get?.('retry-after'), this.now());
      return { ok: false, retryable, status: r.status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    } catch (err) {
      const e2 = err as Error;
      if (signal.aborted || e2.name === 'AbortError') return { ok: false, retryable: true, error: 'PagerDuty did not answer in time' };
      // pdjs parses every body as JSON: an HTML 502 from a proxy arrives as "invalid json".
      if (/invalid json/i.test(e2.message)) return { ok: false, retryable: true, error: 'PagerDuty sent an unreadable (non-JSON) answer' };
      return { ok: false, retryable: true, error: `cannot reach PagerDuty: ${e2.message}` };
    }
  }

  async onCalls(filter: { escalationPolicyIds?: string[] }, signal: AbortSignal): Promise<OnCallEntry[]> {
    const token = this.cfg.apiToken;
    if (!token) throw new PagingApiError('PAGERDUTY_API_TOKEN is not set, so I cannot ask PagerDuty who is on call.');
    const out: OnCallEntry[] = [];
    let offset = 0;
    // The server may cap `limit` below what we ask; advance by what it says it used.
    for (let pageNo = 0; pageNo < 50; pageNo++) {
      const query: Record<string, string | string[]> = { limit: '100', offset: String(offset), earliest: 'true', time_zone: 'UTC' };
      if (filter.escalationPolicyIds?.length) query['escalation_policy_ids[]'] = filter.escalationPolicyIds;
      let r;
      try {
        r = await api({ token, server: this.cfg.apiHost, endpoint: '/oncalls', method: 'GET', queryParameters: query, signal, requestTimeout: 0, retryTimeout: this.cfg.delivery.rateLimitPauseSeconds * 1000 });
      } catch (err) {
        observePagerDutyCall('rest', 'error');
        if (signal.aborted) throw new PagingApiError('PagerDuty did not answer in time.');
        const status = (err as { status?: number }).status;
        if (typeof status === 'number') throw new PagingApiError(`PagerDuty answered ${status} with an unreadable body.`, status);
        throw new PagingApiError(`Cannot reach PagerDuty: ${(err as Error).message}`);
      }
      observePagerDutyCall('rest', r.ok ? 'ok' : r.status === 429 ? 'rate_limited' : 'error');
      if (!r.ok) {
        const detail = describeBody(r.data);
        const hint = r.status === 401 ? ' Check PAGERDUTY_API_TOKEN.' : r.status === 429 ? ' PagerDuty is rate limiting us; try again in a minute.' : '';
        throw new PagingApiError(`PagerDuty answered ${r.status}${detail ? `: ${detail}` : ''}.${hint}`, r.status);
      }
      const data = r.data as { oncalls?: RawOnCall[]; more?: boolean; limit?: number; offset?: number };
      const rows = data.oncalls ?? [];
      for (const o of rows) out.push(fromRaw(o));
      if (!data.more || rows.length === 0) return out;
      offset = (data.offset ?? offset) + (data.limit ?? rows.length);
    }
    return out;
  }
}

interface RawOnCall {
  user?: { summary?: string; html_url?: string };
  escalation_policy?: { id?: string; summary?: string };
  escalation_level?: number;
  schedule?: { summary?: string } | null;
  end?: string | null;
}

const fromRaw = (o: RawOnCall): OnCallEntry => ({
  userName: o.user?.summary ?? 'unknown user',
  ...(o.user?.html_url ? { userUrl: o.user.html_url } : {}),
  escalationPolicyId: o.escalation_policy?.id ?? '',
  escalationPolicyName: o.escalation_policy?.summary ?? 'unknown escalation policy',
  escalationLevel: o.escalation_level ?? 1,
  ...(o.schedule?.summary ? { scheduleName: o.schedule.summary } : {}),
  end: o.end ?? null,
});
