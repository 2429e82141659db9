import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ConsoleConfig } from './config.js';
import { systemClock, type Clock } from '../clock.js';

export const SESSION_COOKIE = 'firebreak_console';
export const CSRF_HEADER = 'x-firebreak-csrf';
/** How long a console session lasts before the person needs their login link again. */
const SESSION_SECONDS = 12 * 3600;

export interface ConsoleSession {
  id: string;
  /** Set when the console is exposed: the user this session acts as, fixed at login. */
  user: string | null;
  expiresAt: number;
  csrf: string;
}

export type AccessRefusal = { status: 401 | 403; error: string; detail: string };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopbackAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

function hostnameOf(hostHeader: string): string {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function cookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  for (const part of (headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Who may use the console. On a laptop (no `console.publicUrl`) only loopback clients reach it
 * and the page picks the acting user. Exposed (`console.publicUrl` set), each person signs in
 * with their own login link and acts only as themselves: the two-person rule needs two people.
 * Either way, the browser-facing checks (Host, Origin, JSON, CSRF header) stop other sites and
 * DNS rebinding from driving the console through someone's browser.
 */
export class ConsoleAccess {
  readonly exposed: boolean;
  private readonly publicOrigin: string | undefined;
  private readonly publicHost: string | undefined;
  private readonly secret: Buffer;
  /** True when no secret was configured: links printed at start are valid until restart. */
  readonly ephemeralSecret: boolean;
  private readonly secureCookie: boolean;

  constructor(config: Pick<ConsoleConfig, 'publicUrl' | 'secret'>, private readonly clock: Clock = systemClock) {
    this.exposed = Boolean(config.publicUrl);
    if (config.publicUrl) {
      const u = new URL(config.publicUrl);
      this.publicOrigin = u.origin;
      this.publicHost = u.host.toLowerCase();
    }
    this.secureCookie = this.publicOrigin?.startsWith('https:') ?? false;
    this.ephemeralSecret = !config.secret;
    this.secret = config.secret ? Buffer.from(config.secret, 'utf8') : randomBytes(32);
  }

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${value}`).digest('base64url');
  }

  /** The token in a user's login link: anyone holding it signs in as that user. */
  loginToken(userId: string): string {
    return this.mac('login', userId);
  }

  loginLink(userId: string): string {
    const base = this.publicOrigin ?? 'http://localhost';
    return `${base}/console/login?user=${encodeURIComponent(userId)}&token=${this.loginToken(userId)}`;
  }

  checkLogin(userId: string, token: string): boolean {
    return sameText(this.loginToken(userId), token);
  }

  /** A new session; its cookie value is signed, so any replica sharing the secret accepts it. */
  newSession(user: string | null): { session: ConsoleSession; setCookie: string } {
    const id = randomBytes(16).toString('base64url');
    const expiresAt = Math.floor(this.clock.now().getTime() / 1000) + SESSION_SECONDS;
    const body = `${id}.${user ?? '-'}.${expiresAt}`;
    const value = `${body}.${this.mac('session', body)}`;
    const attrs = ['Path=/console', 'HttpOnly', 'SameSite=Strict', `Max-Age=${SESSION_SECONDS}`, ...(this.secureCookie ? ['Secure'] : [])];
    return { session: { id, user, expiresAt, csrf: this.mac('csrf', id) }, setCookie: `${SESSION_COOKIE}=${value}; ${attrs.join('; ')}` };
  }

  session(headers: IncomingHttpHeaders): ConsoleSession | undefined {
    const raw = cookie(headers, SESSION_COOKIE);
    const parts = raw?.split('.');
    if (!parts || parts.length !== 4) return undefined;
    const [id, user, exp, sig] = parts as [string, string, string, string];
    if (!sameText(this.mac('session', `${id}.${user}.${exp}`), sig)) return undefined;
    const expiresAt = Number(exp);
    if (!(expiresAt > this.clock.now().getTime() / 1000)) return undefined;
    // A laptop session carries no user; an exposed console accepts only sessions from a login.
    if (this.exposed !== (user !== '-')) return undefined;
    return { id, user: user === '-' ? null : user, expiresAt, csrf: this.mac('csrf', id) };
  }

  /**
   * Checks that apply to every console request, the page included: where it comes from
   * (loopback only unless exposed), which Host it names (DNS rebinding), and which site sent it.
   */
  checkOrigin(req: { headers: IncomingHttpHeaders; remoteAddress?: string }): AccessRefusal | undefined {
    const refuse = (detail: string): AccessRefusal => ({ status: 403, error: 'forbidden', detail });
    if (!this.exposed && !isLoopbackAddress(req.remoteAddress)) {
      return refuse('The console is local: it answers only on this machine. Set console.publicUrl (FIREBREAK_CONSOLE_PUBLIC_URL) to expose it with login links');
    }
    const host = String(req.headers.host ?? '').toLowerCase();
    const hostOk = LOOPBACK_HOSTS.has(hostnameOf(host)) || (this.publicHost !== undefined && host === this.publicHost);
    if (!hostOk) return refuse(`Host ${host || '(none)'} is not this console's address`);
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let ok = false;
      try {
        const o = new URL(origin);
        ok = ((o.protocol === 'http:' || o.protocol === 'https:') && LOOPBACK_HOSTS.has(o.hostname.toLowerCase())) || o.origin === this.publicOrigin;
      } catch {
        ok = false;
      }
      if (!ok) return refuse(`Requests from ${origin} may not use the console`);
    }
    if (req.headers['sec-fetch-site'] === 'cross-site') return refuse('Cross-site requests may not use the console');
    return undefined;
  }

  /** The API's extra checks: a session, its CSRF header, and JSON bodies. */
  checkApi(req: { method: string; headers: IncomingHttpHeaders }, session: ConsoleSession | undefined): AccessRefusal | undefined {
    if (!session) {
      return {
        status: 401, error: 'login_required',
        detail: this.exposed ? 'Sign in with your console login link (printed when Firebreak started)' : 'Reload the console page to start a session',
      };
    }
    const csrf = req.headers[CSRF_HEADER];
    if (typeof csrf !== 'string' || !sameText(csrf, session.csrf)) {
      return { status: 403, error: 'csrf', detail: `Send the ${CSRF_HEADER} header from GET /console/api/session` };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return { status: 403, error: 'json_required', detail: 'Console requests must be application/json' };
    }
    return undefined;
  }
}

/**
 * Prints each console user's login link where the person starting Firebreak sees it, never
 * into the structured log (logs are shipped and kept; a link is a credential).
 */
export function printLoginLinks(access: ConsoleAccess, userIds: string[], out: { write(s: string): unknown }): void {
  const lines = userIds.map((id) => `  ${id}: ${access.loginLink(id)}`);
  const validity = access.ephemeralSecret
    ? 'They work until Firebreak restarts; set FIREBREAK_CONSOLE_SECRET to keep them.'
    : 'They stay valid while FIREBREAK_CONSOLE_SECRET stays the same.';
  out.write(`\nConsole login links, one per person. Give each person only their own. ${validity}\n${lines.join('\n')}\n\n`);
}
