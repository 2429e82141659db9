/** PagerDuty faked with nock on its real hostnames (pdjs builds the https URLs itself). */
import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach } from 'vitest';
import type { TestApp } from '../support/app.js';
import type { PagingService } from '../../src/paging/service.js';

export const EVENTS = 'https://events.pagerduty.com';
export const API = 'https://api.pagerduty.com';

/** Only Slack's fake (on loopback) may be reached for real; any other call fails the test. */
export function isolateNetwork(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
}

/** Clears nock between tests; at the end stops the app and lets the network through again. */
export function releaseAfterTests(app: () => TestApp): void {
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    await app().stop();
    nock.enableNetConnect();
  });
}

/** PagerDuty's REST API as the person's token calls it. */
export const pdRest = (token: string) => nock(API, { reqheaders: { authorization: `Token token=${token}`, accept: 'application/vnd.pagerduty+json;version=2' } });
/** GET /users answering a lookup by e-mail. */
export const pdUsers = (token: string, email: string, list: { id: string; email: string; name: string }[]) =>
  pdRest(token).get('/users').query({ query: email, limit: '25' }).reply(200, { users: list });
export const PD_ALICE = { id: 'PALICE1', email: 'alice@example.com', name: 'Alice' };
export const PD_BOB = { id: 'PBOB001', email: 'bob@example.com', name: 'Bob' };

export type Reply = { status: number; body?: object; headers?: Record<string, string> };
export const accepted = (dedupKey = 'k'): Reply => ({ status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } });

/** Answers POST /v2/enqueue with `replies` in order and records every body it received. */
export function fakeEvents(replies: Reply[]): { bodies: Record<string, unknown>[]; scope: nock.Scope } {
  const bodies: Record<string, unknown>[] = [];
  const scope = nock(EVENTS);
  for (const r of replies) {
    scope.post('/v2/enqueue').reply(function (_uri, body) {
      bodies.push(body as Record<string, unknown>);
      return [r.status, r.body ?? {}, r.headers ?? {}];
    });
  }
  return { bodies, scope };
}

export function signature(secret: string, body: string): string {
  return 'v1=' + createHmac('sha256', secret).update(body).digest('hex');
}

export function postWebhook(t: TestApp, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${t.url}/webhooks/pagerduty`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

export function webhookBody(type: string, data: Record<string, unknown>, opts: { id?: string; at?: Date; agent?: string } = {}): string {
  return JSON.stringify({
    event: {
      id: opts.id ?? `01${Math.random().toString(36).slice(2, 12).toUpperCase()}`,
      event_type: type,
      resource_type: 'incident',
      occurred_at: (opts.at ?? new Date()).toISOString(),
      agent: opts.agent ? { id: 'PUSER1', type: 'user_reference', summary: opts.agent, html_url: 'https://acme.pagerduty.com/users/PUSER1' } : null,
      client: null,
      data,
    },
  });
}

export const pagingOf = (t: TestApp): PagingService => t.app.services.paging;

export async function incidentByTitle(t: TestApp, title: string): Promise<Record<string, unknown> & { id: number; channel_id: string; channel_name: string; declared_at: Date }> {
  const { rows } = await t.db.pool.query('SELECT * FROM incidents WHERE title = $1', [title]);
  return rows[0];
}

export async function pageRows(t: TestApp, incidentId: number): Promise<Record<string, unknown>[]> {
  return (await t.db.pool.query('SELECT * FROM pages WHERE incident_id = $1 ORDER BY id', [incidentId])).rows;
}

export async function eventTypes(t: TestApp, incidentId: number): Promise<string[]> {
  return (await t.db.pool.query('SELECT type FROM events WHERE incident_id = $1 ORDER BY id', [incidentId])).rows.map((r) => r.type as string);
}
