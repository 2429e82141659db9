import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import { findUnstorableText } from '../http/unstorable-text.js';
import { isValidSlackRequest } from '@slack/bolt';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import type { HttpRequest, HttpResponse, Route } from '../http/router.js';
import { problem } from '../http/router.js';

/**
 * Slack gives us 3 s; a request still unanswered a little before that gets a 503. Never a 200:
 * every listener stores its request before it acks, so "not acked yet" means "not stored yet",
 * and a 200 then would acknowledge a request that a failing write could still lose.
 */
const ACK_DEADLINE_MS = 2500;
/** Slack's own replay window, applied both ways: a request dated ahead is as suspect as an old one. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/**
 * Bolt receiver mounted on Firebreak's own HTTP server at POST /slack/events, so Slack,
 * webhooks, the console and health share one port. It checks Slack's v0 signature on the
 * raw body, rejects stale or forged requests with 401, and answers as soon as a listener
 * acks (which it does once the request is stored) — listeners keep working after that
 * (events: once their listeners have stored them).
 */
export class SlackEventsReceiver implements Receiver {
  private bolt: App | undefined;

  /** `wallClock` must be real time: Slack's timestamps are, and Bolt's own check reads Date.now(). */
  constructor(private signingSecret: string, private log: Logger, private wallClock: Clock) {}

  init(app: App): void {
    this.bolt = app;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  route(): Route {
    return { method: 'POST', path: '/slack/events', maxBodyBytes: 1024 * 1024, handle: (req) => this.handle(req) };
  }

  private async handle(req: HttpRequest): Promise<HttpResponse> {
    const raw = req.body.toString('utf8');
    const signature = String(req.headers['x-slack-signature'] ?? '');
    const timestamp = Number(req.headers['x-slack-request-timestamp'] ?? NaN);
    if (!signature || !Number.isFinite(timestamp)) return problem(401, 'missing_signature', 'Requests to /slack/events must be signed by Slack.');
    if (Math.abs(this.wallClock.now().getTime() / 1000 - timestamp) > MAX_CLOCK_SKEW_SECONDS) {
      return problem(401, 'stale_request', 'The request timestamp is more than 5 minutes away from now (a replay, or a clock out of sync).');
    }
    if (!isValidSlackRequest({ signingSecret: this.signingSecret, body: raw, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp } })) {
      return problem(401, 'invalid_signature', 'The signature does not match the body.');
    }
    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(raw, String(req.headers['content-type'] ?? ''));
    } catch {
      return problem(400, 'malformed_body', 'The body is neither a Slack form payload nor JSON.');
    }
    // Requests are stored before their ack: text PostgreSQL cannot hold is refused here, as a 4xx
    // (a 5xx would make Slack re-deliver the same poison for hours).
    const unstorable = findUnstorableText(body);
    if (unstorable) return problem(422, 'unstorable_text', unstorable);
    if (body.ssl_check) return { status: 200 };
    if (body.type === 'url_verification') return { status: 200, headers: { 'content-type': 'text/plain' }, body: String(body.challenge ?? '') };
    if (!this.bolt) return problem(503, 'not_ready', 'Firebreak is still starting.');

    let settle!: (r: HttpResponse) => void;
    const answered = new Promise<HttpResponse>((r) => (settle = r));
    let acked = false;
    // Bolt acks Events API deliveries before any listener runs. Firebreak's listeners store the
    // event first, so an event is answered when its listeners have finished: 200 once stored,
    // 5xx (Slack re-delivers) when it could not be.
    const isEvent = body.type === 'event_callback';
    const timer = setTimeout(() => {
      if (isEvent) {
        this.log.warn({ requestId: req.requestId }, 'slack event not stored in time; asking Slack to re-deliver');
        return settle({ status: 503, body: { error: 'not_stored_in_time' } });
      }
      // Still storing (PostgreSQL restarting, a slow pool): the outcome is unknown, so say so. A
      // retry with the same trigger finds the record if the write did land, and is then answered.
      this.log.warn({ requestId: req.requestId }, 'slack request not stored by the ack deadline; answering 503');
      settle({ status: 503, body: { error: 'not_stored_in_time' } });
    }, ACK_DEADLINE_MS);
    const event: ReceiverEvent = {
      body,
      retryNum: req.headers['x-slack-retry-num'] ? Number(req.headers['x-slack-retry-num']) : undefined,
      retryReason: req.headers['x-slack-retry-reason'] as string | undefined,
      customProperties: { requestId: req.requestId },
      ack: async (response?: unknown) => {
        if (acked) return;
        acked = true;
        if (isEvent) return;
        clearTimeout(timer);
        if (response === undefined || response === '') settle({ status: 200 });
        else if (typeof response === 'string') settle({ status: 200, headers: { 'content-type': 'text/plain' }, body: response });
        else settle({ status: 200, body: response as object });
      },
    };
    this.bolt.processEvent(event).then(
      () => {
        // An event is answered once its listeners stored it; anything no listener acked (a
        // request type Firebreak has no handler for) had nothing to store and is answered now.
        if (!isEvent && acked) return;
        clearTimeout(timer);
        settle({ status: 200 });
      },
      (err: unknown) => {
        this.log.error({ err, requestId: req.requestId }, 'slack listener failed');
        clearTimeout(timer);
        if (!acked || isEvent) settle({ status: 500, body: { error: 'internal_error' } });
      },
    );
    return answered;
  }
}

export function parseSlackBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const form = Object.fromEntries(new URLSearchParams(raw));
  if (typeof form.payload === 'string') return JSON.parse(form.payload) as Record<string, unknown>;
  return form;
}
