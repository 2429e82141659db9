import type { IncomingHttpHeaders } from 'node:http';

export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The raw body: signatures are computed over these exact bytes. */
  body: Buffer;
  requestId: string;
  remoteAddress?: string;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON. */
  body?: string | Buffer | object;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Exact path, or a prefix ending in `/*`. */
  path: string;
  /** Larger bodies are refused with 413 before the handler runs. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Logged at debug, not info: requests every open page repeats (long-polls), like probes. */
  quiet?: boolean;
  handle(req: HttpRequest): Promise<HttpResponse>;
}

export const json = (status: number, body: object, headers?: Record<string, string>): HttpResponse => ({ status, body, headers });

/** A friendly JSON error: what went wrong and, where it helps, what to do. */
export const problem = (status: number, error: string, detail?: string): HttpResponse => json(status, { error, ...(detail ? { detail } : {}) });

export function matchRoute(routes: Route[], method: string, path: string): Route | 'method_not_allowed' | undefined {
  let pathMatched = false;
  for (const r of routes) {
    const hit = r.path.endsWith('/*') ? path.startsWith(r.path.slice(0, -1)) || path === r.path.slice(0, -2) : path === r.path;
    if (!hit) continue;
    pathMatched = true;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return r;
  }
  return pathMatched ? 'method_not_allowed' : undefined;
}
