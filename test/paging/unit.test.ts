import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dedupKeyFor, MAX_DEDUP_KEY, PD_SEVERITY, pageSummary, truncateSummary } from '../../src/paging/model.js';
import { verifyPagerDutySignature } from '../../src/webhooks/pagerduty.js';
import { parseRetryAfter, toEventPayload } from '../../src/paging/pagerduty.js';
import { deliverWithRetries, retryDelay, type DeliveryPolicy } from '../../src/paging/delivery.js';
import type { AttemptResult } from '../../src/paging/provider.js';
import { parseWebhookEvent } from '../../src/paging/webhook-event.js';
import { pagingConfigSchema } from '../../src/paging/config.js';
import { resolveRoutingKeys } from '../../src/paging/routing.js';

const sig = (secret: string, body: string) => 'v1=' + createHmac('sha256', secret).update(body).digest('hex');

describe('dedup keys and summaries', () => {
  it('derives the dedup key only from prefix, incident id and service', () => {
    expect(dedupKeyFor('firebreak', 42, 'default')).toBe('firebreak-incident-42-default');
    expect(dedupKeyFor('firebreak', 42, 'default')).toBe(dedupKeyFor('firebreak', 42, 'default'));
    expect(dedupKeyFor('firebreak', 42, 'payments')).not.toBe(dedupKeyFor('firebreak', 42, 'default'));
  });

  it('never exceeds 255 characters and does not collide by cutting', () => {
    const a = dedupKeyFor('p'.repeat(64), 1, 'x'.repeat(300) + 'a');
    const b = dedupKeyFor('p'.repeat(64), 1, 'x'.repeat(300) + 'b');
    expect(a.length).toBeLessThanOrEqual(MAX_DEDUP_KEY);
    expect(a).not.toBe(b);
  });

  it('cuts summaries to 1,024 characters on a character boundary', () => {
    const long = '🔥'.repeat(2000);
    const cut = truncateSummary(long);
    expect(Array.from(cut)).toHaveLength(1024);
    expect(cut.endsWith('…')).toBe(true);
    expect(truncateSummary('short')).toBe('short');
    expect(Array.from(pageSummary({ id: 7, severity: 'P1', title: 'x'.repeat(5000) }))).toHaveLength(1024);
  });

  it('maps P0-P4 to PagerDuty severities', () => {
    expect(PD_SEVERITY).toEqual({ P0: 'critical', P1: 'critical', P2: 'error', P3: 'warning', P4: 'info' });
  });

  it('sends only routing key, action and dedup key on resolve', () => {
    expect(toEventPayload({ action: 'resolve', routingKey: 'R1', dedupKey: 'k' })).toEqual({ routing_key: 'R1', event_action: 'resolve', dedup_key: 'k' });
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"event":{"id":"1"}}');
  it('accepts a matching v1 signature and refuses anything else', () => {
    expect(verifyPagerDutySignature(body, sig('s1', body.toString()), ['s1'])).toBe(true);
    expect(verifyPagerDutySignature(body, sig('other', body.toString()), ['s1'])).toBe(false);
    expect(verifyPagerDutySignature(body, undefined, ['s1'])).toBe(false);
    expect(verifyPagerDutySignature(body, sig('s1', body.toString()), [])).toBe(false);
    expect(verifyPagerDutySignature(Buffer.from('{"event":{"id":"2"}}'), sig('s1', body.toString()), ['s1'])).toBe(false);
    expect(verifyPagerDutySignature(body, sig('s1', body.toString()).replace('v1=', 'v0='), ['s1'])).toBe(false);
  });

  it('accepts any of several signatures against any of several secrets (rotation)', () => {
    const header = `${sig('old', body.toString())},${sig('new', body.toString())}`;
    expect(verifyPagerDutySignature(body, header, ['new'])).toBe(true);
    expect(verifyPagerDutySignature(body, header, ['old'])).toBe(true);
    expect(verifyPagerDutySignature(body, sig('new', body.toString()), ['old', 'new'])).toBe(true);
    expect(verifyPagerDutySignature(body, header, ['neither'])).toBe(false);
  });
});

describe('retry policy', () => {
  const policy: DeliveryPolicy = { attempts: 4, timeoutMs: 1000, backoffMs: 1000, maxBackoffMs: 3000, maxRetryAfterMs: 10_000 };
  const fail = (o: Partial<Extract<AttemptResult, { ok: false }>> = {}): AttemptResult => ({ ok: false, retryable: true, error: 'x', ...o });

  it('honours Retry-After (capped) and otherwise doubles the backoff up to the cap', () => {
    expect(retryDelay(policy, 1, fail({ retryAfterMs: 7000 }) as never)).toBe(7000);
    expect(retryDelay(policy, 1, fail({ retryAfterMs: 99_000 }) as never)).toBe(10_000);
    expect([1, 2, 3, 4].map((n) => retryDelay(policy, n, fail() as never))).toEqual([1000, 2000, 3000, 3000]);
  });

  it('parses Retry-After in seconds or as an HTTP date', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('stops at the attempt limit, and at once on a failure not worth retrying', async () => {
    const waits: number[] = [];
    let calls = 0;
    const out = await deliverWithRetries(async () => (calls++, fail({ status: 500 })), policy, async (ms) => void waits.push(ms));
    expect(out).toMatchObject({ ok: false, attempts: 4, status: 500 });
    expect(calls).toBe(4);
    expect(waits).toEqual([1000, 2000, 3000]);
    calls = 0;
    const bad = await deliverWithRetries(async () => (calls++, fail({ retryable: false, status: 400 })), policy, async () => {});
    expect(bad).toMatchObject({ ok: false, attempts: 1, status: 400 });
    expect(calls).toBe(1);
  });

  it('aborts a call that outlives its timeout and counts it as a retryable failure', async () => {
    const out = await deliverWithRetries(
      (signal) => new Promise<AttemptResult>((resolve) => signal.addEventListener('abort', () => resolve(fail({ error: 'timed out' })))),
      { ...policy, attempts: 2, timeoutMs: 20 },
      async () => {},
    );
    expect(out).toMatchObject({ ok: false, attempts: 2, lastError: 'timed out' });
  });

  it('stops at shutdown: cancels the call in flight and reports interrupted, not failed', async () => {
    const stop = new AbortController();
    const attempts: AttemptResult[] = [];
    const out = await deliverWithRetries(
      (signal) => {
        setTimeout(() => stop.abort(), 5);
        return new Promise<AttemptResult>((resolve) => signal.addEventListener('abort', () => resolve(fail({ error: 'aborted' }))));
      },
      { ...policy, timeoutMs: 60_000 },
      async () => {},
      async (_n, r) => void attempts.push(r),
      stop.signal,
    );
    expect(out).toMatchObject({ ok: false, interrupted: true, attempts: 1 });
    expect(attempts).toEqual([]);
    const before = await deliverWithRetries(async () => ({ ok: true, status: 202 }), policy, async () => {}, undefined, AbortSignal.abort());
    expect(before).toMatchObject({ ok: false, interrupted: true, attempts: 0 });
  });
});

describe('webhook event parsing', () => {
  it('reads incident events, notes and unknown types', () => {
    const ack = parseWebhookEvent({
      event: {
        id: 'E1', event_type: 'incident.acknowledged', occurred_at: '2026-01-01T00:03:00Z', agent: { summary: 'Dana' },
        data: { id: 'PINC1', type: 'incident', html_url: 'https://acme.pagerduty.com/incidents/PINC1', incident_key: 'firebreak-incident-1-default', assignees: [{ summary: 'Dana' }] },
      },
    })!;
    expect(ack).toMatchObject({ id: 'E1', type: 'incident.acknowledged', agentName: 'Dana', pdIncidentId: 'PINC1', incidentKey: 'firebreak-incident-1-default', assignees: ['Dana'] });
    expect(ack.occurredAt?.toISOString()).toBe('2026-01-01T00:03:00.000Z');
    const note = parseWebhookEvent({ event: { id: 'E2', event_type: 'incident.annotated', data: { type: 'incident_note', content: 'restarting', incident: { id: 'PINC1' } } } })!;
    expect(note).toMatchObject({ pdIncidentId: 'PINC1', note: 'restarting' });
    expect(note.occurredAt).toBeUndefined();
    expect(parseWebhookEvent({ event: { id: 'E3', event_type: 'service.updated', data: { type: 'service', id: 'PSVC' } } })).toMatchObject({ type: 'service.updated', pdIncidentId: undefined });
    expect(parseWebhookEvent({ hello: 1 })).toBeUndefined();
    expect(parseWebhookEvent('nope')).toBeUndefined();
  });
});

describe('routing keys', () => {
  it('reads the default key from config and per-service keys from their env vars, never from config', () => {
    const cfg = pagingConfigSchema.parse({ routingKey: 'RDEF', services: { payments: {}, search: { routingKeyEnv: 'SEARCH_PD_KEY' }, ledger: {} } });
    const keys = resolveRoutingKeys(cfg, { PAGERDUTY_ROUTING_KEY_PAYMENTS: 'RPAY', SEARCH_PD_KEY: 'RSEARCH' });
    expect([...keys.values()].map((k) => [k.service, k.envName, k.key])).toEqual([
      ['default', 'PAGERDUTY_ROUTING_KEY', 'RDEF'],
      ['payments', 'PAGERDUTY_ROUTING_KEY_PAYMENTS', 'RPAY'],
      ['search', 'SEARCH_PD_KEY', 'RSEARCH'],
    ]);
  });
});
