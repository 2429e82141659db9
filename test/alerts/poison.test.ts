/**
 * Poison input: a body PostgreSQL or Slack cannot hold is the sender's problem (422 naming
 * the field), never a retry-forever 503, and never fails the valid requests sharing its write.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeClock } from '../../src/clock.js';
import { IngestQueue, RejectedAlerts } from '../../src/alerts/ingest-queue.js';
import { storeAlertBatches } from '../../src/alerts/store.js';
import type { IncomingAlert } from '../../src/alerts/model.js';
import { createPool, isDataError } from '../../src/db/pool.js';
import { AM_TOKEN, GENERIC_TOKEN, amBody, bearer, post } from './support.js';

const PD_SECRET = 'pd-webhook-secret-poison';
const pdSign = (body: string) => `v1=${createHmac('sha256', PD_SECRET).update(body).digest('hex')}`;
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['alerts'],
    config: { paging: { webhookSecrets: [PD_SECRET] }, alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN }, generic: { bearerToken: GENERIC_TOKEN } }, route: { channel: 'alerts', group_by: ['alertname'] } } },
  });
});
afterAll(() => t.stop());

const POISONS = {
  nul: (i: number) => amBody([{ labels: { alertname: `PoisonNul${i}`, instance: 'db\u0000-1' } }]),
  surrogate: (i: number) => amBody([{ labels: { alertname: `PoisonSurrogate${i}` }, annotations: { summary: 'half a pair \ud800 here' } }]),
  date: (i: number) => amBody([{ labels: { alertname: `PoisonDate${i}` }, startsAt: '-271821-04-20T00:00:00Z' }]),
};

describe('poisoned alerts', () => {
  it('45 poisoned and 45 valid sent together: every valid one stored, every poisoned one 422', async () => {
    const kinds = Object.keys(POISONS) as (keyof typeof POISONS)[];
    type Outcome = { kind: string; status: number; body: { error?: string; detail?: string } };
    const sends: Promise<Outcome>[] = [];
    const send = (kind: string, body: string) =>
      post(t, '/webhooks/alertmanager', body, bearer(AM_TOKEN)).then(async (r): Promise<Outcome> => ({ kind, status: r.status, body: (await r.json()) as Outcome['body'] }));
    for (let i = 0; i < 45; i++) {
      const kind = kinds[i % 3]!;
      sends.push(send(kind, POISONS[kind](i)));
      sends.push(send('valid', amBody([{ labels: { alertname: `Valid${i}`, team: 'web' } }])));
    }
    const results = await Promise.all(sends);
    const valid = results.filter((r) => r.kind === 'valid');
    expect(valid.map((r) => r.status)).toEqual(Array(45).fill(200));
    for (const kind of kinds) {
      const poisoned = results.filter((r) => r.kind === kind);
      expect(poisoned).toHaveLength(15);
      expect(poisoned.map((r) => r.status)).toEqual(Array(15).fill(422));
    }
    expect(results.find((r) => r.kind === 'nul')!.body.detail).toMatch(/alerts\[0\]\.labels\.instance: contains a NUL/);
    expect(results.find((r) => r.kind === 'surrogate')!.body.detail).toMatch(/alerts\[0\]\.annotations\.summary: contains a lone UTF-16 surrogate/);
    expect(results.find((r) => r.kind === 'date')!.body.detail).toMatch(/alerts\[0\]\.startsAt: is outside 0001-01-01\.\.9999-12-31/);
    const { rows } = await t.db.pool.query<{ n: number; p: number }>(
      `SELECT count(*) FILTER (WHERE labels->>'alertname' LIKE 'Valid%')::int AS n, count(*) FILTER (WHERE labels->>'alertname' LIKE 'Poison%')::int AS p FROM alerts`,
    );
    expect(rows[0]).toEqual({ n: 45, p: 0 });
  });

  it('bounds label count and sizes on the generic receiver, naming the field', async () => {
    const labels = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`l${i}`, 'x']));
    const many = await post(t, '/webhooks/generic', JSON.stringify({ title: 'Many labels', labels }), bearer(GENERIC_TOKEN));
    expect(many.status).toBe(422);
    expect(((await many.json()) as { detail: string }).detail).toMatch(/alerts\[0\]\.labels: 10\d entries, at most 100 allowed/);
    const big = await post(t, '/webhooks/generic', JSON.stringify({ title: 'Big label', labels: { host: 'x'.repeat(5000) } }), bearer(GENERIC_TOKEN));
    expect(big.status).toBe(422);
    expect(((await big.json()) as { detail: string }).detail).toMatch(/alerts\[0\]\.labels\.host: 5000 characters, at most 4096/);
  });

  it('PagerDuty webhooks with a NUL or an impossible date are refused as 422, not retried', async () => {
    const incident = (extra: Record<string, unknown>) => JSON.stringify({ event: {
      id: `E${Object.keys(extra).join('')}`, event_type: 'incident.triggered', occurred_at: '2026-03-09T10:00:00Z',
      data: { type: 'incident', id: 'PPOISON1', title: 'Disk full', ...extra },
    } });
    const nul = incident({ title: 'Disk\u0000full' });
    const r1 = await post(t, '/webhooks/pagerduty', nul, { 'x-pagerduty-signature': pdSign(nul) });
    expect(r1.status).toBe(422);
    expect(((await r1.json()) as { detail: string }).detail).toMatch(/event\.data\.title: contains a NUL/);
    const old = incident({ created_at: '-271821-04-20T00:00:00Z' });
    const r2 = await post(t, '/webhooks/pagerduty', old, { 'x-pagerduty-signature': pdSign(old) });
    expect(r2.status).toBe(422);
    expect(((await r2.json()) as { detail: string }).detail).toMatch(/startsAt: is outside/);
  });
});

describe('the shared write isolates a request the database refuses', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase('fb_poison'); });
  afterAll(() => db.drop());

  const alert = (name: string, extra: Partial<IncomingAlert> = {}): IncomingAlert => ({
    source: 'generic', fingerprint: name, status: 'firing', labels: { alertname: name }, annotations: {},
    startsAt: new Date('2026-03-09T10:00:00Z'), endsAt: null, generatorUrl: null, ...extra,
  });

  it('retries each request of a failed batch alone: the bad one is rejected, the others stored', async () => {
    let writes = 0;
    const q = new IngestQueue((reqs) => { writes++; return storeAlertBatches(db.pool, reqs, new Date('2026-03-09T10:00:00Z')); }, 1);
    // The first submit occupies the single writer, so the next eleven queue into one shared batch.
    const first = q.submit([alert('first')]);
    const rest = Array.from({ length: 10 }, (_, i) => q.submit([alert(`good${i}`)]));
    const bad = q.submit([alert('bad', { labels: { alertname: 'bad\u0000' } })]);
    const settled = await Promise.allSettled([first, ...rest, bad]);
    expect(settled.slice(0, 11).map((s) => s.status)).toEqual(Array(11).fill('fulfilled'));
    const last = settled[11]!;
    expect(last.status).toBe('rejected');
    expect((last as PromiseRejectedResult).reason).toBeInstanceOf(RejectedAlerts);
    expect(writes).toBeGreaterThan(2); // one shared write failed, then one write per request
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM alerts WHERE fingerprint LIKE 'good%' OR fingerprint = 'first'`);
    expect(rows[0]!.n).toBe(11);
  });

  it('a database that cannot be reached is transient (503), not the sender\'s fault', async () => {
    const down = createPool('postgres://nobody:x@127.0.0.1:1/none', 1);
    const q = new IngestQueue((reqs) => storeAlertBatches(down, reqs, new Date()));
    const err = await q.submit([alert('x')]).catch((e: unknown) => e);
    await down.end();
    expect(err).not.toBeInstanceOf(RejectedAlerts);
    expect(isDataError(err)).toBe(false);
  });
});
