import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HttpRequest, HttpResponse } from '../http/router.js';
import { problem } from '../http/router.js';

export interface ReceiverAuth {
  bearerToken?: string;
  basicUsername?: string;
  basicPassword?: string;
  allowUnauthenticated: boolean;
}

/** Constant-time comparison so a wrong secret leaks nothing through timing. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Bearer or basic credentials as configured for the receiver. A receiver with no
 * credentials configured refuses everything unless told it sits on a trusted network.
 */
export function checkAuth(req: HttpRequest, auth: ReceiverAuth, receiver: string, configKey: string): HttpResponse | undefined {
  const header = String(req.headers.authorization ?? '');
  const hasBasic = !!(auth.basicUsername && auth.basicPassword);
  if (!auth.bearerToken && !hasBasic) {
    if (auth.allowUnauthenticated) return undefined;
    return problem(401, 'receiver_not_configured', `The ${receiver} receiver has no credentials configured; set ${configKey}.bearerToken (or allowUnauthenticated on a trusted network).`);
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (bearer && auth.bearerToken && sameSecret(bearer, auth.bearerToken)) return undefined;
  const basic = /^Basic\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (basic && hasBasic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0 && sameSecret(decoded.slice(0, i), auth.basicUsername!) && sameSecret(decoded.slice(i + 1), auth.basicPassword!)) return undefined;
  }
  const expected = [auth.bearerToken ? 'Authorization: Bearer <token>' : '', hasBasic ? 'HTTP basic auth' : ''].filter(Boolean).join(' or ');
  return {
    ...problem(401, header ? 'invalid_credentials' : 'missing_credentials', header ? `The ${receiver} credentials are wrong.` : `The ${receiver} receiver needs ${expected}.`),
    headers: { 'www-authenticate': auth.bearerToken ? 'Bearer' : 'Basic realm="firebreak"' },
  };
}

/** Hex HMAC-SHA256, as Grafana signs webhook bodies. */
export const hmacHex = (secret: string, data: Buffer | string): string => createHmac('sha256', secret).update(data).digest('hex');
