import { createVerify } from 'node:crypto';
import { z } from 'zod';
import { fingerprintOf, type IncomingAlert } from '../alerts/model.js';
import type { Labels } from '../alerts/matchers.js';
import { genericAlerts, genericPayload } from './formats.js';
import type { Clock } from '../clock.js';

/*
 * AWS SNS over HTTP(S): every message is signed by SNS with a certificate served from
 * sns.<region>.amazonaws.com. We only trust certificates and subscription URLs on that host,
 * so a forged message cannot point us at a certificate of its own choosing.
 */

export const snsEnvelope = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Subject: z.string().optional(),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(['1', '2'], { error: 'SignatureVersion must be "1" or "2"' }),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
  SubscribeURL: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
  Token: z.string().optional(),
});
export type SnsEnvelope = z.infer<typeof snsEnvelope>;

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** True only for https://sns.<region>.amazonaws.com/... (the one place SNS serves from). */
export function isSnsUrl(text: string | undefined, pathSuffix?: string): boolean {
  if (!text) return false;
  try {
    const u = new URL(text);
    return u.protocol === 'https:' && SNS_HOST.test(u.hostname) && !u.username && !u.password && (!u.port || u.port === '443') && (!pathSuffix || u.pathname.endsWith(pathSuffix));
  } catch {
    return false;
  }
}

/** The canonical string SNS signs: listed keys in this order, `Key\nValue\n` each. */
export function stringToSign(m: SnsEnvelope): string {
  const keys = m.Type === 'Notification'
    ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return keys.map((k) => `${k}\n${(m as Record<string, string | undefined>)[k] ?? ''}\n`).join('');
}

export function verifySignature(m: SnsEnvelope, certPem: string): boolean {
  try {
    const v = createVerify(m.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
    v.update(stringToSign(m), 'utf8');
    return v.verify(certPem, m.Signature, 'base64');
  } catch {
    return false;
  }
}

export interface SnsClientOptions {
  clock: Clock;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Certificates kept (SNS rotates them rarely; a handful of regions at most). */
  maxCertificates?: number;
  /** How long a failed certificate fetch is remembered, so a flood of forged URLs costs one fetch each. */
  failureTtlMs?: number;
}

type CachedCertificate = { pem: Promise<string>; failedUntil?: number };

/**
 * Fetches SNS signing certificates (cached per URL, bounded, failures remembered briefly) and
 * visits SubscribeURLs. Callers have already checked that every URL names an SNS host.
 */
export class SnsClient {
  private certs = new Map<string, CachedCertificate>();
  private readonly clock: Clock;
  private readonly fetch: typeof fetch;
  private readonly maxCertificates: number;
  private readonly failureTtlMs: number;

  constructor(opts: SnsClientOptions) {
    this.clock = opts.clock;
    this.fetch = opts.fetch ?? ((...args) => fetch(...args));
    this.maxCertificates = opts.maxCertificates ?? 20;
    this.failureTtlMs = opts.failureTtlMs ?? 60_000;
  }

  certificate(url: string): Promise<string> {
    const now = this.clock.now().getTime();
    const cached = this.certs.get(url);
    if (cached && (cached.failedUntil === undefined || cached.failedUntil > now)) {
      // Re-insert so the Map's order is least recently used first.
      this.certs.delete(url);
      this.certs.set(url, cached);
      return cached.pem;
    }
    const entry: CachedCertificate = { pem: this.download(url) };
    // Concurrent requests for one URL share the same fetch; a failure is kept for failureTtlMs.
    entry.pem.catch(() => {
      entry.failedUntil = this.clock.now().getTime() + this.failureTtlMs;
    });
    this.certs.delete(url);
    this.certs.set(url, entry);
    while (this.certs.size > this.maxCertificates) this.certs.delete(this.certs.keys().next().value!);
    return entry.pem;
  }

  private async download(url: string): Promise<string> {
    const res = await this.fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
    if (!res.ok) throw new Error(`signing certificate fetch answered ${res.status}`);
    const pem = await res.text();
    if (!pem.includes('BEGIN CERTIFICATE')) throw new Error('signing certificate URL did not return a PEM certificate');
    return pem;
  }

  async confirm(subscribeUrl: string): Promise<void> {
    const res = await this.fetch(subscribeUrl, { signal: AbortSignal.timeout(10_000), redirect: 'error' });
    await res.text();
    if (!res.ok) throw new Error(`SubscribeURL answered ${res.status}`);
  }
}

const cloudWatchAlarm = z.object({
  AlarmName: z.string().min(1),
  AlarmDescription: z.string().nullish(),
  AlarmArn: z.string().optional(),
  AWSAccountId: z.string().optional(),
  Region: z.string().optional(),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  NewStateReason: z.string().optional(),
  StateChangeTime: z.string().optional(),
  Trigger: z.object({ MetricName: z.string().optional(), Namespace: z.string().optional() }).partial().passthrough().optional(),
});

const topicName = (arn: string): string => arn.split(':').pop() ?? arn;

function validDate(s: string | undefined, fallback: Date): Date {
  const d = s ? new Date(s) : fallback;
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/**
 * What an SNS notification carries: a CloudWatch alarm, Firebreak's generic alert JSON, or
 * plain text (one alert per subject and topic, so repeats update it rather than pile up).
 */
export function snsAlerts(m: SnsEnvelope, now: Date): IncomingAlert[] {
  let body: unknown;
  try {
    body = JSON.parse(m.Message);
  } catch {
    body = undefined;
  }
  const cw = cloudWatchAlarm.safeParse(body);
  if (cw.success) {
    const a = cw.data;
    const labels: Labels = { alertname: a.AlarmName, source: 'cloudwatch', topic: topicName(m.TopicArn) };
    if (a.Region) labels.region = a.Region;
    if (a.AWSAccountId) labels.account = a.AWSAccountId;
    if (a.Trigger?.Namespace) labels.namespace = a.Trigger.Namespace;
    if (a.Trigger?.MetricName) labels.metric = a.Trigger.MetricName;
    if (a.NewStateValue === 'INSUFFICIENT_DATA') labels.state = 'insufficient_data';
    const at = validDate(a.StateChangeTime, now);
    const resolved = a.NewStateValue === 'OK';
    return [{
      source: 'sns',
      fingerprint: fingerprintOf({ alarm: a.AlarmArn ?? `${a.AWSAccountId ?? ''}/${a.Region ?? ''}/${a.AlarmName}` }),
      status: resolved ? 'resolved' : 'firing',
      labels,
      annotations: { summary: a.AlarmDescription || a.AlarmName, ...(a.NewStateReason ? { description: a.NewStateReason } : {}) },
      startsAt: at,
      endsAt: resolved ? at : null,
      generatorUrl: null,
    }];
  }
  const generic = genericPayload.safeParse(body);
  if (generic.success) return genericAlerts(generic.data, now).map((a) => ({ ...a, source: 'sns' as const }));
  const labels: Labels = { alertname: m.Subject?.trim() || 'SNS notification', topic: topicName(m.TopicArn) };
  return [{
    source: 'sns',
    fingerprint: fingerprintOf(labels),
    status: 'firing',
    labels,
    annotations: { summary: m.Subject?.trim() || m.Message.slice(0, 200), description: m.Message.slice(0, 3000) },
    startsAt: validDate(m.Timestamp, now),
    endsAt: null,
    generatorUrl: null,
  }];
}
