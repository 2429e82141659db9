import type { z } from 'zod';
import type { HttpRequest, HttpResponse } from '../http/router.js';
import { json, problem } from '../http/router.js';
import { findUnstorableText } from '../http/unstorable-text.js';

/** `alerts[0].status: expected "firing" or "resolved"` — names the field so senders can fix it. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : 'body'}: ${i.message}`)
    .join('; ');
}

/** Parses and validates a JSON body, or returns the 4xx that says what is wrong with it. */
export function parseJsonBody<T>(req: HttpRequest, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; response: HttpResponse } {
  if (req.body.length === 0) return { ok: false, response: problem(400, 'empty_body', 'The request has no body; send the JSON payload.') };
  let raw: unknown;
  try {
    raw = JSON.parse(req.body.toString('utf8'));
  } catch (e) {
    return { ok: false, response: problem(400, 'invalid_json', `The body is not valid JSON: ${(e as Error).message}`) };
  }
  const unstorable = findUnstorableText(raw);
  if (unstorable) return { ok: false, response: unprocessable(unstorable) };
  const r = schema.safeParse(raw);
  if (!r.success) return { ok: false, response: problem(422, 'invalid_payload', describeZodError(r.error)) };
  return { ok: true, value: r.data };
}

export function accepted(r: { accepted: number; new: number; duplicates: number; notify?: { channel: string; groupWaitSeconds: number }[] }): HttpResponse {
  return json(200, { status: 'accepted', alerts: r.accepted, new: r.new, duplicates: r.duplicates, ...(r.notify ? { notify: r.notify } : {}) });
}

/** A body no retry can store (NUL, lone surrogates, out-of-range dates, oversized labels). */
export const unprocessable = (detail: string): HttpResponse => problem(422, 'invalid_payload', detail);

/** Storage is down: 503 so the sender retries (Alertmanager, Grafana and SNS all do). */
export const storageUnavailable = (requestId: string): HttpResponse =>
  ({ ...problem(503, 'temporarily_unavailable', `Alerts could not be stored right now; retry. Request id ${requestId}.`), headers: { 'retry-after': '5' } });
