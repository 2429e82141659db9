/**
 * A valid signature says who sent a request, not when: Slack requests and Grafana's timestamped
 * signatures more than 5 minutes away from now, in either direction, are refused as replays.
 * And a malformed path is the client's mistake (400), not ours (500).
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';

const GRAFANA_SECRET = 'grafana-hmac-secret-123';
const TS_HEADER = 'X-Grafana-Alerting-Signature-Timestamp';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ config: { alerts: { receivers: { grafana: { signatureSecret: GRAFANA_SECRET, timestampHeader: TS_HEADER } } } } });
});
afterAll(() => t.stop());

describe('Slack request timestamps', () => {
  const body = 'command=%2Fincident&text=help&user_id=U0ALICE&channel_id=C0GENERAL&team_id=T0TEST&trigger_id=x';
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['a day ahead', 86_400],
    ['six minutes ahead', 360],
    ['six minutes old', -360],
  ])('refuses a correctly signed request dated %s with 401', async (_n, offset) => {
    const res = await t.postSigned(body, 'application/x-www-form-urlencoded', { timestamp: now() + offset });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'stale_request' });
  });

  it('accepts a request a little ahead (clocks differ by seconds)', async () => {
    const res = await t.postSigned(body, 'application/x-www-form-urlencoded', { timestamp: now() + 60 });
    expect(res.status).toBe(200);
  });
});

describe('Grafana signed timestamps', () => {
  const payload = (name: string) => JSON.stringify({
    receiver: 'firebreak', status: 'firing', orgId: 1, groupKey: '{}', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://grafana.example',
    alerts: [{ status: 'firing', labels: { alertname: name }, annotations: { summary: name }, startsAt: '2026-03-09T10:00:00Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: name }],
    version: '1',
  });
  const send = (body: string, timestamp: string | undefined) => {
    const signed = timestamp === undefined ? body : `${timestamp}:${body}`;
    return fetch(`${t.url}/webhooks/grafana`, {
      method: 'POST', body,
      headers: {
        'content-type': 'application/json',
        'x-grafana-alerting-signature': createHmac('sha256', GRAFANA_SECRET).update(signed).digest('hex'),
        ...(timestamp === undefined ? {} : { [TS_HEADER]: timestamp }),
      },
    });
  };
  const seconds = (offsetMs: number) => String(Math.floor((t.clock.now().getTime() + offsetMs) / 1000));
  const stored = async (name: string) => Number((await t.db.pool.query(`SELECT count(*) AS n FROM alerts WHERE labels->>'alertname' = $1`, [name])).rows[0].n);

  it('accepts a fresh signed request', async () => {
    expect((await send(payload('FreshOne'), seconds(0))).status).toBeLessThan(300);
    expect(await stored('FreshOne')).toBe(1);
  });

  it('refuses the same signed request replayed ten minutes later', async () => {
    const sentAt = seconds(0);
    const body = payload('Replayed');
    t.clock.advance(10 * 60_000);
    const res = await send(body, sentAt);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'stale_request' });
    expect(await stored('Replayed')).toBe(0);
  });

  it.each([
    ['dated an hour ahead', () => seconds(3_600_000)],
    ['without its timestamp', () => undefined],
    ['with a timestamp that is not a number', () => 'yesterday'],
  ])('refuses a request %s', async (_n, ts) => {
    const res = await send(payload('Odd'), ts());
    expect(res.status).toBe(401);
    expect(await stored('Odd')).toBe(0);
  });
});

describe('malformed paths', () => {
  it.each(['/runbooks/%', '/runbooks/%E0%A4%A', '/runbooks/%zz'])('GET %s answers 400', async (p) => {
    const res = await fetch(`${t.url}${p}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_runbook_name' });
  });
});
