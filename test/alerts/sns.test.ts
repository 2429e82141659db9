/**
 * AWS SNS: signatures verified against the signing certificate (a self-made one here, served by
 * a local stand-in for sns.<region>.amazonaws.com), subscriptions confirmed only on SNS hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestApp, type TestApp } from '../support/app.js';
import { post } from './helpers.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:prod-alarms';
const CERT_URL = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem';
let t: TestApp;
let dir: string;
let key: string;
let fakeSns: http.Server;
const visits: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fb-sns-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-subj', '/CN=sns.amazonaws.com', '-days', '2'], { stdio: 'ignore' });
  key = readFileSync(path.join(dir, 'key.pem'), 'utf8');
  const cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  fakeSns = http.createServer((req, res) => {
    visits.push(req.url ?? '');
    if (req.url?.endsWith('.pem')) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      return void res.end(cert);
    }
    if (req.url?.includes('Action=ConfirmSubscription')) {
      res.writeHead(200, { 'content-type': 'text/xml' });
      return void res.end('<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:sub</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>');
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => fakeSns.listen(0, '127.0.0.1', r));
  t = await startTestApp({
    config: { alerts: { receivers: { sns: { topicArns: [TOPIC], testEndpoint: `http://127.0.0.1:${(fakeSns.address() as AddressInfo).port}` } } } },
  });
});
afterAll(async () => {
  await t.stop();
  fakeSns.close();
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
const send = (m: Msg) => post(t, '/webhooks/sns', JSON.stringify(m), { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': m.Type! });
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
  });

  it('never fetches a certificate from a host that is not SNS', async () => {
    const before = visits.length;
    const res = await send(sign(notification('x', { SigningCertURL: 'https://certs.evil.example/SimpleNotificationService-1.pem' })));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/sns\.<region>\.amazonaws\.com/);
    expect(visits.length).toBe(before);
  });

  it('refuses topics outside alerts.receivers.sns.topicArns', async () => {
    const res = await send(sign(notification('x', { TopicArn: 'arn:aws:sns:eu-west-1:999999999999:other' })));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'topic_not_allowed' });
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
