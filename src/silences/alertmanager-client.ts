/**
 * Alertmanager's API v2 for silences (also served by Grafana under
 * /api/alertmanager/grafana): create, list, read and expire. Plain HTTP over fetch; an HA pair
 * is one client over several base URLs, tried in order, since peers gossip silences to each
 * other. Knows nothing about Slack or Firebreak's database.
 */
import type { MatchOp } from '../alerts/matchers.js';

export interface ApiMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface NewSilence {
  matchers: ApiMatcher[];
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

export type SilenceState = 'active' | 'pending' | 'expired';

export interface ApiSilence extends NewSilence {
  id: string;
  state: SilenceState;
  updatedAt: Date;
}

/**
 * A failed call. `kind` tells the caller what a person can do: `unreachable` (try later,
 * nothing was changed that we know of), `rejected` (Alertmanager's own reason, fix the input),
 * `not_found` (no such silence).
 */
export class AlertmanagerError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'rejected' | 'not_found',
    readonly status?: number,
  ) {
    super(message);
    this.name = 'AlertmanagerError';
  }
}

export interface SilenceApi {
  readonly name: string;
  /** How people are told where the silence lives: "Alertmanager main", "Grafana grafana". */
  readonly where: string;
  create(s: NewSilence): Promise<string>;
  list(): Promise<ApiSilence[]>;
  get(id: string): Promise<ApiSilence>;
  expire(id: string): Promise<void>;
}

export interface AlertmanagerClientOptions {
  name: string;
  kind?: 'alertmanager' | 'grafana';
  urls: string[];
  /** `Authorization` header value, when the Alertmanager needs one. */
  authorization?: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export const toApiMatcher = (m: { name: string; op: MatchOp; value: string }): ApiMatcher => ({
  name: m.name, value: m.value, isRegex: m.op === '=~' || m.op === '!~', isEqual: m.op === '=' || m.op === '=~',
});

export const opOf = (m: ApiMatcher): MatchOp => (m.isRegex ? (m.isEqual === false ? '!~' : '=~') : m.isEqual === false ? '!=' : '=');

/** Alertmanager answers errors as a JSON string, a `{message}` object or plain text. */
function errorText(body: string): string {
  try {
    const v = JSON.parse(body) as unknown;
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
  } catch {
    /* plain text */
  }
  return body.trim().slice(0, 500);
}

interface RawSilence {
  id: string;
  status?: { state?: string };
  updatedAt?: string;
  matchers?: { name: string; value: string; isRegex?: boolean; isEqual?: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy?: string;
  comment?: string;
}

function fromRaw(r: RawSilence): ApiSilence {
  const state = r.status?.state;
  return {
    id: r.id,
    state: state === 'active' || state === 'pending' ? state : 'expired',
    updatedAt: new Date(r.updatedAt ?? r.startsAt),
    matchers: (r.matchers ?? []).map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex === true, isEqual: m.isEqual !== false })),
    startsAt: new Date(r.startsAt),
    endsAt: new Date(r.endsAt),
    createdBy: r.createdBy ?? '',
    comment: r.comment ?? '',
  };
}

const SILENCE_ID = /^[A-Za-z0-9-]{1,64}$/;

export const whereOf = (name: string, kind: 'alertmanager' | 'grafana' = 'alertmanager'): string => `${kind === 'grafana' ? 'Grafana' : 'Alertmanager'} ${name}`;

/** Alertmanager answers a new silence with 200, Grafana's Alertmanager-compatible API with 202. */
const ok = (status: number): boolean => status >= 200 && status < 300;

export class AlertmanagerClient implements SilenceApi {
  readonly name: string;
  readonly where: string;
  private doFetch: typeof fetch;

  constructor(private opts: AlertmanagerClientOptions) {
    this.name = opts.name;
    this.where = whereOf(opts.name, opts.kind);
    this.doFetch = opts.fetch ?? fetch;
  }

  /**
   * One request, to the first peer that answers. A peer that cannot be reached or answers 5xx
   * is skipped; a 4xx is Alertmanager's decision and is final.
   */
  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const problems: string[] = [];
    for (const base of this.opts.urls) {
      const url = `${base.replace(/\/+$/, '')}${path}`;
      let res: Response;
      try {
        res = await this.doFetch(url, {
          method,
          headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...(this.opts.authorization ? { authorization: this.opts.authorization } : {}) },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
          redirect: 'error',
        });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        problems.push(`${new URL(base).host}: ${err.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs / 1000} s` : (err.cause?.code ?? err.message)}`);
        continue;
      }
      const text = await res.text();
      if (res.status >= 500) {
        problems.push(`${new URL(base).host}: HTTP ${res.status} ${errorText(text)}`.trim());
        continue;
      }
      return { status: res.status, text };
    }
    throw new AlertmanagerError(`${this.where.replace(/ .*/, '')} "${this.name}" is unreachable (${problems.join('; ')})`, 'unreachable');
  }

  async create(s: NewSilence): Promise<string> {
    const { status, text } = await this.call('POST', '/api/v2/silences', {
      matchers: s.matchers, startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString(), createdBy: s.createdBy, comment: s.comment,
    });
    if (!ok(status)) throw new AlertmanagerError(errorText(text) || `HTTP ${status}`, 'rejected', status);
    const id = (JSON.parse(text) as { silenceID?: unknown }).silenceID;
    if (typeof id !== 'string' || !SILENCE_ID.test(id)) throw new AlertmanagerError(`Alertmanager "${this.name}" answered without a silence id`, 'unreachable', status);
    return id;
  }

  async list(): Promise<ApiSilence[]> {
    const { status, text } = await this.call('GET', '/api/v2/silences');
    if (status !== 200) throw new AlertmanagerError(`listing silences failed: ${errorText(text) || `HTTP ${status}`}`, 'rejected', status);
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw)) throw new AlertmanagerError(`Alertmanager "${this.name}" answered the silence list with something else`, 'unreachable', status);
    return (raw as RawSilence[]).filter((r) => r && typeof r.id === 'string').map(fromRaw);
  }

  async get(id: string): Promise<ApiSilence> {
    if (!SILENCE_ID.test(id)) throw new AlertmanagerError(`no silence with id ${id}`, 'not_found', 404);
    const { status, text } = await this.call('GET', `/api/v2/silence/${encodeURIComponent(id)}`);
    if (status === 404 || status === 422) throw new AlertmanagerError(`no silence with id ${id}`, 'not_found', status);
    if (status !== 200) throw new AlertmanagerError(errorText(text) || `HTTP ${status}`, 'rejected', status);
    return fromRaw(JSON.parse(text) as RawSilence);
  }

  async expire(id: string): Promise<void> {
    // Alertmanager 0.25 answers DELETE of an unknown id with a 500; GET gives a clean 404 first.
    await this.get(id);
    const { status, text } = await this.call('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`);
    if (status === 404 || status === 422) throw new AlertmanagerError(`no silence with id ${id}`, 'not_found', status);
    if (!ok(status)) throw new AlertmanagerError(errorText(text) || `HTTP ${status}`, 'rejected', status);
  }
}
