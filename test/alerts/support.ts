import type { TestApp } from '../support/app.js';

export const AM_TOKEN = 'am-token-0123456789';
export const GENERIC_TOKEN = 'generic-token-0123456789';

export interface AmAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
}

/** An Alertmanager webhook v4 body, as Alertmanager 0.25 sends it. */
export function amBody(alerts: AmAlert[], extra: Record<string, unknown> = {}): string {
  const status = alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved';
  return JSON.stringify({
    version: '4', groupKey: '{}:{alertname="x"}', truncatedAlerts: 0, status, receiver: 'firebreak',
    groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am.example:9093',
    alerts: alerts.map((a) => ({
      status: a.status ?? 'firing', labels: a.labels, annotations: a.annotations ?? {},
      startsAt: a.startsAt ?? '2026-03-09T09:59:00Z', endsAt: a.endsAt ?? (a.status === 'resolved' ? '2026-03-09T10:30:00Z' : '0001-01-01T00:00:00Z'),
      generatorURL: 'http://prometheus.example/graph', ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}),
    })),
    ...extra,
  });
}

export function post(t: TestApp, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${t.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Moves the fake clock and lets routing, the outbox and background work run. */
export async function step(t: TestApp, ms: number): Promise<void> {
  t.clock.advance(ms);
  await t.settle();
}

/**
 * Moves time on, then a second at a time so paced channels (one message per second) empty:
 * how long Slack posting takes, in fake time.
 */
export async function stepAndDrain(t: TestApp, ms: number, seconds = 10): Promise<void> {
  await step(t, ms);
  for (let i = 0; i < seconds; i++) await step(t, 1000);
}

export const text = (m: { text: string; blocks?: unknown[] } | undefined): string => (m ? `${m.text}\n${JSON.stringify(m.blocks ?? [])}` : '');

/** Polls `ok` every event-loop turn until it holds; fails naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
