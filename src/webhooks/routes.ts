import type { z } from 'zod';
import type { AppContext } from '../context.js';
import type { HttpRequest, HttpResponse, Route } from '../http/router.js';
import { json, problem } from '../http/router.js';
import type { AlertService } from '../alerts/service.js';
import type { IncomingAlert } from '../alerts/model.js';
import { checkAuth, hmacHex, sameSecret } from './auth.js';
import { accepted, describeZodError, parseJsonBody, storageUnavailable, unprocessable } from './parse.js';
import { RejectedAlerts } from '../alerts/ingest-queue.js';
import { findUnstorableText } from '../http/unstorable-text.js';
import { alertmanagerAlerts, alertmanagerPayload, genericAlerts, genericPayload, grafanaAlerts, grafanaPayload } from './formats.js';
import { isSnsUrl, snsAlerts, snsEnvelope, SnsClient, verifySignature } from './sns.js';

/** Same replay window as Slack's, in both directions. */
const MAX_SKEW_MS = 5 * 60_000;

/** Unix seconds (Grafana's format); a 13-digit value is read as milliseconds. */
function isFresh(timestamp: string, now: Date): boolean {
  if (!/^\d{1,13}$/.test(timestamp)) return false;
  const n = Number(timestamp);
  const ms = timestamp.length >= 13 ? n : n * 1000;
  return Math.abs(now.getTime() - ms) <= MAX_SKEW_MS;
}

/**
 * The HTTP receivers monitoring systems post alerts to. Each authenticates, validates and
 * stores before answering 2xx; only storage trouble gets a 5xx, because senders retry those
 * and would otherwise retry a body that can never succeed.
 */
export function webhookRoutes(ctx: AppContext, alerts: AlertService): Route[] {
  const cfg = ctx.config.alerts;
  const maxBodyBytes = cfg.maxBodyBytes;
  const sns = new SnsClient({ clock: ctx.clock });

  const store = async (req: HttpRequest, list: IncomingAlert[]): Promise<HttpResponse> => {
    try {
      return accepted(await alerts.ingest(list));
    } catch (err) {
      if (err instanceof RejectedAlerts) {
        ctx.log.warn({ requestId: req.requestId, path: req.path, reason: err.message }, 'alerts refused as unstorable');
        return unprocessable(err.message);
      }
      ctx.log.error({ err, requestId: req.requestId, path: req.path }, 'storing alerts failed');
      return storageUnavailable(req.requestId);
    }
  };

  /** A JSON receiver: authenticate, validate against one schema, convert, store before the 2xx. */
  const jsonReceiver = <T>(
    path: string, authenticate: (req: HttpRequest) => HttpResponse | undefined, schema: z.ZodType<T>, toAlerts: (v: T, now: Date) => IncomingAlert[],
  ): Route => ({
    method: 'POST', path, maxBodyBytes,
    async handle(req) {
      const denied = authenticate(req);
      if (denied) return denied;
      const p = parseJsonBody(req, schema);
      if (!p.ok) return p.response;
      return store(req, toAlerts(p.value, ctx.clock.now()));
    },
  });

  /** Bearer or basic auth as configured for the receiver. */
  const tokenAuth = (receiver: 'alertmanager' | 'generic', label: string) => (req: HttpRequest) =>
    checkAuth(req, cfg.receivers[receiver], label, `alerts.receivers.${receiver}`);

  /** Grafana's HMAC signature when a secret is set; a token is then optional, otherwise required. */
  const grafanaAuth = (req: HttpRequest): HttpResponse | undefined => {
    const g = cfg.receivers.grafana;
    if (g.signatureSecret) {
      const sig = String(req.headers[g.signatureHeader.toLowerCase()] ?? '');
      const ts = g.timestampHeader ? String(req.headers[g.timestampHeader.toLowerCase()] ?? '') : '';
      const signed = g.timestampHeader ? Buffer.concat([Buffer.from(`${ts}:`), req.body]) : req.body;
      if (!sig) return problem(401, 'missing_signature', `Grafana webhooks must carry the ${g.signatureHeader} header (set the contact point's HMAC secret).`);
      if (!sameSecret(sig.toLowerCase(), hmacHex(g.signatureSecret, signed))) return problem(401, 'invalid_signature', 'The Grafana HMAC signature does not match the body.');
      // A valid signature proves who sent it, not when: without this a captured request replays forever.
      if (g.timestampHeader && !isFresh(ts, ctx.clock.now())) {
        return problem(401, 'stale_request', `The ${g.timestampHeader} timestamp is missing or more than 5 minutes away from now (a replay, or a clock out of sync).`);
      }
    }
    return !g.signatureSecret || g.bearerToken ? checkAuth(req, g, 'Grafana', 'alerts.receivers.grafana') : undefined;
  };

  const alertmanager = jsonReceiver('/webhooks/alertmanager', tokenAuth('alertmanager', 'Alertmanager'), alertmanagerPayload, alertmanagerAlerts);
  const grafana = jsonReceiver('/webhooks/grafana', grafanaAuth, grafanaPayload, grafanaAlerts);
  const generic = jsonReceiver('/webhooks/generic', tokenAuth('generic', 'generic'), genericPayload, genericAlerts);

  const snsRoute: Route = {
    method: 'POST', path: '/webhooks/sns', maxBodyBytes,
    async handle(req) {
      let raw: unknown;
      try {
        raw = JSON.parse(req.body.toString('utf8'));
      } catch (e) {
        return problem(400, 'invalid_json', `SNS bodies are JSON (sent as text/plain): ${(e as Error).message}`);
      }
      const unstorable = findUnstorableText(raw);
      if (unstorable) return unprocessable(unstorable);
      const parsed = snsEnvelope.safeParse(raw);
      if (!parsed.success) return problem(422, 'invalid_payload', describeZodError(parsed.error));
      const m = parsed.data;
      // The topic is the cheapest check and needs no network: done before any certificate fetch.
      const { topicArns, allowAnyTopic } = cfg.receivers.sns;
      if (!allowAnyTopic && !topicArns.includes(m.TopicArn)) {
        return problem(403, 'topic_not_allowed', `Topic ${m.TopicArn} is not in alerts.receivers.sns.topicArns.`);
      }
      if (!isSnsUrl(m.SigningCertURL, '.pem')) return problem(403, 'invalid_signature', 'SigningCertURL must be an https://sns.<region>.amazonaws.com/....pem URL.');
      let pem: string;
      try {
        pem = await sns.certificate(m.SigningCertURL);
      } catch (err) {
        ctx.log.warn({ err, requestId: req.requestId }, 'SNS signing certificate fetch failed');
        return { ...problem(503, 'certificate_unavailable', 'Could not fetch the SNS signing certificate; retry.'), headers: { 'retry-after': '5' } };
      }
      if (!verifySignature(m, pem)) return problem(403, 'invalid_signature', 'The SNS message signature does not verify against its signing certificate.');
      if (m.Type === 'SubscriptionConfirmation') {
        if (!isSnsUrl(m.SubscribeURL)) return problem(422, 'invalid_subscribe_url', 'SubscribeURL must be on https://sns.<region>.amazonaws.com.');
        try {
          await sns.confirm(m.SubscribeURL!);
        } catch (err) {
          ctx.log.warn({ err, topic: m.TopicArn }, 'SNS subscription confirmation failed');
          return problem(502, 'confirmation_failed', `Visiting SubscribeURL failed: ${(err as Error).message}`);
        }
        ctx.log.info({ topic: m.TopicArn }, 'SNS subscription confirmed');
        return json(200, { status: 'subscribed', topic: m.TopicArn });
      }
      if (m.Type === 'UnsubscribeConfirmation') {
        ctx.log.info({ topic: m.TopicArn }, 'SNS unsubscribed');
        return json(200, { status: 'unsubscribed', topic: m.TopicArn });
      }
      return store(req, snsAlerts(m, ctx.clock.now()));
    },
  };

  return [alertmanager, grafana, snsRoute, generic];
}
