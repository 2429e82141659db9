/**
 * AWS SNS: signatures verified against the signing certificate (a self-made one here, served by
 * nock on the real sns.<region>.amazonaws.com host), subscriptions confirmed only on SNS hosts,
 * topics refused unless configured, and nothing fetched before the topic is known to be ours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { startTestApp, type TestApp } from '../support/app.js';
import { post } from './support.js';
import { SnsClient } from '../../src/webhooks/sns.js';
import { FakeClock } from '../../src/clock.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:prod-alarms';
const SNS = 'https://sns.eu-west-1.amazonaws.com';
const CERT_URL = `${SNS}/SimpleNotificationService-0000000000000000000000.pem`;
let t: TestApp;
let dir: string;
let key: string;
let cert: string;
/** Every outbound request: served by the fake SNS, or refused by nock (anything else). */
const visits: string[] = [];
const unmatched: string[] = [];
const onNoMatch = (req: { href?: string; path?: string; hostname?: string; host?: string }) => {
  const where = String(req.href ?? `${req.hostname ?? req.host}${req.path}`);
  // Loopback (the app itself, the fake Slack) passes through nock as unmatched but allowed.
  if (!/^(https?:\/\/)?(127\.0\.0\.1|localhost)\b/.test(where)) unmatched.push(where);
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fb-sns-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-subj', '/CN=sns.amazonaws.com', '-days', '2'], { stdio: 'ignore' });
  key = readFileSync(path.join(dir, 'key.pem'), 'utf8');
  cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  nock.emitter.on('no match', onNoMatch);
  nock(SNS).persist().get(/.*/).reply((uri) => {
    visits.push(uri);
    if (uri.endsWith('.pem') && !uri.includes('broken')) return [200, cert, { 'content-type': 'application/x-pem-file' }];
    if (uri.includes('Action=ConfirmSubscription')) {
      return [200, '<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:sub</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>', { 'content-type': 'text/xml' }];
    }
    return [404, ''];
  });
  t = await startTestApp({ config: { alerts: { receivers: { sns: { topicArns: [TOPIC] } } } } });
});
afterAll(async () => {
  await t.stop();
  nock.emitter.removeListener('no match', onNoMatch);
  nock.cleanAll();
  nock.enableNetConnect();
  rmSync(dir, { recursive: true, force: true });
});

type Msg = Record<string, string>;

/** Signs as SNS does (written out from AWS's documentation, independently of the receiver). */
function sign(m: Msg, version: '1' | '2' = '2'): Msg {
  const fields = m.Type === 'Notification'
    ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const canonical = fields.map((f) => `${f}\n${m[f]}\n`).join('');
  const s = createSign(version === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
  s.update(canonical);
  return { ...m, SignatureVersion: version, Signature: s.sign(key, 'base64'), SigningCertURL: m.SigningCertURL ?? CERT_URL };
}

let seq = 0;
const notification = (message: string, extra: Msg = {}): Msg => ({
  Type: 'Notification', MessageId: `msg-${++seq}`, TopicArn: TOPIC, Message: message, Timestamp: '2026-03-09T10:00:00.000Z', ...extra,
});
const confirmation = (subscribeUrl: string): Msg => ({
  Type: 'SubscriptionConfirmation', MessageId: `msg-${++seq}`, TopicArn: TOPIC, Token: 'tok-123',
  Message: 'You have chosen to subscribe to the topic.', SubscribeURL: subscribeUrl, Timestamp: '2026-03-09T10:00:00.000Z',
});
const sendTo = (app: TestApp, m: Msg) => post(app, '/webhooks/sns', JSON.stringify(m), { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': m.Type! });
const send = (m: Msg) => sendTo(t, m);
const alarm = (state: 'ALARM' | 'OK') => JSON.stringify({
  AlarmName: 'api-5xx-rate', AlarmDescription: 'API 5xx above 2%', AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-5xx-rate',
  AWSAccountId: '123456789012', Region: 'EU (Ireland)', NewStateValue: state, NewStateReason: 'Threshold Crossed', StateChangeTime: '2026-03-09T10:00:00.000+0000',
  Trigger: { MetricName: '5XXError', Namespace: 'AWS/ApiGateway' },
});

describe('SNS subscription confirmation', () => {
  it('visits SubscribeURL on sns.<region>.amazonaws.com once the signature verifies', async () => {
    const res = await send(sign(confirmation('https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=tok-123')));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'subscribed', topic: TOPIC });
    expect(visits.some((v) => v.startsWith('/?Action=ConfirmSubscription') && v.includes('Token=tok-123'))).toBe(true);
  });

  it.each([
    ['another host', 'https://evil.example.com/?Action=ConfirmSubscription&Token=tok-123'],
    ['a look-alike host', 'https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription'],
    ['plain http', 'http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription'],
  ])('refuses SubscribeURL on %s and visits nothing', async (_n, url) => {
    const before = visits.filter((v) => v.includes('ConfirmSubscription')).length;
    const res = await send(sign(confirmation(url)));
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: 'invalid_subscribe_url' });
    expect(visits.filter((v) => v.includes('ConfirmSubscription')).length).toBe(before);
  });
});

describe('SNS notifications', () => {
  const count = async () => Number((await t.db.pool.query(`SELECT count(*) AS n FROM alerts WHERE source = 'sns'`)).rows[0].n);

  it('stores a CloudWatch alarm (signature v2), then resolves it on OK (signature v1)', async () => {
    const res = await send(sign(notification(alarm('ALARM'), { Subject: 'ALARM: "api-5xx-rate" in EU (Ireland)' })));
    expect(res.status).toBe(200);
    let row = (await t.db.pool.query(`SELECT * FROM alerts WHERE source = 'sns' AND labels->>'alertname' = 'api-5xx-rate'`)).rows[0];
    expect(row).toMatchObject({ status: 'firing', labels: { alertname: 'api-5xx-rate', source: 'cloudwatch', namespace: 'AWS/ApiGateway', metric: '5XXError' } });
    expect(row.annotations).toMatchObject({ summary: 'API 5xx above 2%', description: 'Threshold Crossed' });
    const ok = await send(sign(notification(alarm('OK'), { Subject: 'OK: "api-5xx-rate"' }), '1'));
    expect(ok.status).toBe(200);
    row = (await t.db.pool.query(`SELECT * FROM alerts WHERE source = 'sns' AND labels->>'alertname' = 'api-5xx-rate'`)).rows[0];
    expect(row.status).toBe('resolved');
    expect(await count()).toBe(1);
  });

  it('stores a plain-text notification as an alert named by its subject', async () => {
    const res = await send(sign(notification('Disk on db-1 is 95% full', { Subject: 'Disk space low' })));
    expect(res.status).toBe(200);
    const row = (await t.db.pool.query(`SELECT * FROM alerts WHERE labels->>'alertname' = 'Disk space low'`)).rows[0];
    expect(row).toMatchObject({ source: 'sns', status: 'firing', labels: { topic: 'prod-alarms' } });
  });

  it('refuses a message whose body was changed after signing', async () => {
    const before = await count();
    const signed = sign(notification(alarm('ALARM')));
    const res = await send({ ...signed, Message: alarm('ALARM').replace('api-5xx-rate', 'forged-alarm') });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'invalid_signature' });
    expect(await count()).toBe(before);
  });

  it('refuses a message signed with another key', async () => {
    const other = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']).toString();
    const m = notification('hello', { Subject: 'Forged' });
    const fields = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'];
    const s = createSign('RSA-SHA256');
    s.update(fields.map((f) => `${f}\n${m[f]}\n`).join(''));
    const res = await send({ ...m, SignatureVersion: '2', Signature: s.sign(other, 'base64'), SigningCertURL: CERT_URL });
    expect(res.status).toBe(403);
    // A 2048-bit RSA key from openssl took 6.7 s once with three suites running at once.
  }, 60_000);

  it('never fetches a certificate from a host that is not SNS', async () => {
    const before = visits.length;
    const res = await send(sign(notification('x', { SigningCertURL: 'https://certs.evil.example/SimpleNotificationService-1.pem' })));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/sns\.<region>\.amazonaws\.com/);
    expect(visits.length).toBe(before);
    expect(unmatched).toEqual([]);
  });

  it('refuses topics outside alerts.receivers.sns.topicArns before fetching anything', async () => {
    const before = visits.length;
    // A certificate URL never seen before: any fetch would show up in visits.
    const res = await send(sign(notification('x', { TopicArn: 'arn:aws:sns:eu-west-1:999999999999:other', SigningCertURL: `${SNS}/SimpleNotificationService-unseen-1.pem` })));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'topic_not_allowed' });
    expect(visits.length).toBe(before);
    expect(unmatched).toEqual([]);
  });

  it('fetches each signing certificate once, however many messages it signs', async () => {
    const url = `${SNS}/SimpleNotificationService-cached-1.pem`;
    for (let i = 0; i < 3; i++) expect((await send(sign(notification(`cached ${i}`, { Subject: `Cached ${i}`, SigningCertURL: url })))).status).toBe(200);
    expect(visits.filter((v) => v.endsWith('cached-1.pem'))).toHaveLength(1);
  });

  it('remembers a failed certificate fetch briefly: one fetch per minute, not one per request', async () => {
    const url = `${SNS}/SimpleNotificationService-broken-1.pem`;
    const fetches = () => visits.filter((v) => v.endsWith('broken-1.pem')).length;
    expect((await send(sign(notification('a', { SigningCertURL: url })))).status).toBe(503);
    expect((await send(sign(notification('b', { SigningCertURL: url })))).status).toBe(503);
    expect(fetches()).toBe(1);
    t.clock.advance(61_000);
    expect((await send(sign(notification('c', { SigningCertURL: url })))).status).toBe(503);
    expect(fetches()).toBe(2);
  });

  it.each([
    ['not JSON', () => 'Type=Notification', 400, 'invalid_json'],
    ['missing Signature', () => JSON.stringify({ ...notification('x'), SignatureVersion: '2', SigningCertURL: CERT_URL }), 422, 'invalid_payload'],
    ['unknown signature version', () => JSON.stringify({ ...sign(notification('x')), SignatureVersion: '3' }), 422, 'invalid_payload'],
  ])('answers %s with %i', async (_n, body, status, error) => {
    const res = await post(t, '/webhooks/sns', body(), { 'content-type': 'text/plain' });
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error });
  });
});

describe('SNS topics by default', () => {
  let plain: TestApp;
  let open: TestApp;
  beforeAll(async () => {
    plain = await startTestApp();
    open = await startTestApp({ config: { alerts: { receivers: { sns: { allowAnyTopic: true } } } } });
  });
  afterAll(async () => {
    await plain?.stop();
    await open?.stop();
  });

  it('refuses every topic when none is configured, without fetching a certificate', async () => {
    const before = visits.length;
    const res = await sendTo(plain, sign(notification('x', { SigningCertURL: `${SNS}/SimpleNotificationService-default-1.pem` })));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'topic_not_allowed' });
    expect(visits.length).toBe(before);
    expect(unmatched).toEqual([]);
  });

  it('accepts any topic whose signature verifies only with allowAnyTopic: true', async () => {
    const res = await sendTo(open, sign(notification('Disk full', { Subject: 'Any topic', TopicArn: 'arn:aws:sns:eu-west-1:999999999999:other' })));
    expect(res.status).toBe(200);
  });
});

describe('SnsClient certificate cache', () => {
  const counting = () => {
    const calls: string[] = [];
    const fetchFn = (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response(String(input).includes('down') ? 'nope' : cert, { status: String(input).includes('down') ? 500 : 200 });
    }) as typeof fetch;
    return { calls, fetchFn };
  };

  it('keeps at most maxCertificates, dropping the least recently used', async () => {
    const { calls, fetchFn } = counting();
    const client = new SnsClient({ clock: new FakeClock(), fetch: fetchFn, maxCertificates: 2 });
    await client.certificate(`${SNS}/a.pem`);
    await client.certificate(`${SNS}/b.pem`);
    await client.certificate(`${SNS}/a.pem`); // a is now the most recent
    await client.certificate(`${SNS}/c.pem`); // evicts b
    await client.certificate(`${SNS}/a.pem`);
    expect(calls).toEqual([`${SNS}/a.pem`, `${SNS}/b.pem`, `${SNS}/c.pem`]);
    await client.certificate(`${SNS}/b.pem`);
    expect(calls).toHaveLength(4);
  });

  it('shares one fetch between concurrent requests and retries a failure only after failureTtlMs', async () => {
    const { calls, fetchFn } = counting();
    const clock = new FakeClock();
    const client = new SnsClient({ clock, fetch: fetchFn, failureTtlMs: 30_000 });
    const results = await Promise.allSettled([client.certificate(`${SNS}/down.pem`), client.certificate(`${SNS}/down.pem`)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(client.certificate(`${SNS}/down.pem`)).rejects.toThrow(/500/);
    expect(calls).toHaveLength(1);
    clock.advance(30_001);
    await expect(client.certificate(`${SNS}/down.pem`)).rejects.toThrow(/500/);
    expect(calls).toHaveLength(2);
  });
});
