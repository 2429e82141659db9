import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import { json, problem, type HttpRequest, type Route } from '../http/router.js';
import { parseWebhookEvent } from '../paging/webhook-event.js';
import type { PagingService } from '../paging/service.js';
import { RejectedAlerts } from '../alerts/ingest-queue.js';
import { findUnstorableText } from '../http/unstorable-text.js';

export const PAGERDUTY_WEBHOOK_PATH = '/webhooks/pagerduty';

const header = (req: HttpRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/**
 * PagerDuty signs the raw body with each of the subscription's secrets and sends every
 * result (`v1=<hex>,v1=<hex>`) so a secret can be rotated without downtime; one match with
 * any secret we hold is enough. Compared in constant time.
 */
export function verifyPagerDutySignature(body: Buffer, signatureHeader: string | undefined, secrets: string[]): boolean {
  if (!signatureHeader || secrets.length === 0) return false;
  const offered = signatureHeader
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => Buffer.from(s.slice(3), 'utf8'));
  for (const secret of secrets) {
    const expected = Buffer.from(createHmac('sha256', secret).update(body).digest('hex'), 'utf8');
    if (offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))) return true;
  }
  return false;
}

/**
 * POST /webhooks/pagerduty: verifies, de-duplicates and queues; the job does the work, so
 * PagerDuty hears 2xx well within its 5 s even when Slack is slow. Incidents Firebreak did
 * not raise are stored as alerts before the 2xx (PagingService.acceptWebhook).
 */
export function pagerDutyWebhookRoute(paging: PagingService, secrets: string[], log: Logger): Route {
  return {
    method: 'POST',
    path: PAGERDUTY_WEBHOOK_PATH,
    maxBodyBytes: 512 * 1024,
    handle: async (req) => {
      if (secrets.length === 0) {
        log.warn('PagerDuty webhook refused: PAGERDUTY_WEBHOOK_SECRETS is not set');
        return problem(401, 'unauthorized', 'Webhook signing secrets are not configured (PAGERDUTY_WEBHOOK_SECRETS).');
      }
      if (!verifyPagerDutySignature(req.body, header(req, 'x-pagerduty-signature'), secrets)) {
        log.warn({ requestId: req.requestId }, 'PagerDuty webhook with a missing or wrong signature refused');
        return problem(401, 'invalid_signature', 'X-PagerDuty-Signature does not match any configured secret.');
      }
      let body: unknown;
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch {
        return problem(400, 'invalid_json', 'The body is not JSON.');
      }
      const unstorable = findUnstorableText(body);
      if (unstorable) return problem(422, 'invalid_payload', unstorable);
      const event = parseWebhookEvent(body);
      // Signed but not an event (PagerDuty's own test pings look like this): nothing to do.
      if (!event) return json(200, { status: 'ignored' });
      const deliveryId = header(req, 'x-webhook-id')?.trim() || event.id;
      let outcome: 'queued' | 'duplicate';
      try {
        outcome = await paging.acceptWebhook(deliveryId, event);
      } catch (err) {
        if (err instanceof RejectedAlerts) return problem(422, 'invalid_payload', err.message);
        // Nothing was marked delivered: PagerDuty retries a 5xx and the retry is processed.
        log.error({ err, requestId: req.requestId, type: event.type }, 'PagerDuty webhook could not be stored');
        return { ...problem(503, 'temporarily_unavailable', `The webhook could not be stored right now; retry. Request id ${req.requestId}.`), headers: { 'retry-after': '5' } };
      }
      return json(outcome === 'duplicate' ? 200 : 202, { status: outcome });
    },
  };
}
