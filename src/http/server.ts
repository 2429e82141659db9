import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { matchRoute, type HttpResponse, type Route } from './router.js';
import { withRequestContext } from '../ops/request-context.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, r: HttpResponse, requestId: string): void {
  const headers: Record<string, string> = r.headers ? { 'x-request-id': requestId, ...r.headers } : { 'x-request-id': requestId };
  let body: string | Buffer | undefined;
  if (r.body === undefined) body = undefined;
  else if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) body = r.body;
  else {
    body = JSON.stringify(r.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(r.status, headers);
  res.end(body);
}

/** Only letters, digits, `-`, `_` and single slashes: a path URL parsing would return as it is. */
const PLAIN_PATH = /^(?:\/[\w-]+)+\/?$|^\/$/;

/**
 * The request target's path and query. A plain path with no query (every webhook POST) is taken
 * as it is: WHATWG URL parsing is measurable per request, and for such a path it returns the
 * same string. Anything else (dots, percent escapes, a query) goes through URL as before.
 */
function parseTarget(target: string): { pathname: string; searchParams: URLSearchParams } {
  if (PLAIN_PATH.test(target)) return { pathname: target, searchParams: new URLSearchParams() };
  return new URL(target, 'http://localhost');
}

export interface HttpServer {
  server: http.Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections and waits for open requests to finish. */
  close(): Promise<void>;
  /** Requests being handled right now (for graceful shutdown). */
  inflight(): number;
}

/** Firebreak's one HTTP server: Slack events, webhooks, console, health and metrics. */
export function createHttpServer(routes: () => Route[], log: Logger, observe?: (route: string, status: number, ms: number) => void): HttpServer {
  let inflight = 0;
  const server = http.createServer((req, res) => {
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 64).replace(/[^\w.:-]/g, '') || randomUUID();
    void withRequestContext({ requestId }, () => handleRequest(req, res, requestId));
  });
  const handleRequest = async (req: http.IncomingMessage, res: http.ServerResponse, requestId: string): Promise<void> => {
    const started = performance.now();
    const url = parseTarget(req.url ?? '/');
    const route = matchRoute(routes(), req.method ?? 'GET', url.pathname);
    inflight++;
    let status = 500;
    try {
      if (!route) return send(res, { status: (status = 404), body: { error: 'not_found', detail: `No route for ${req.method} ${url.pathname}` } }, requestId);
      if (route === 'method_not_allowed') return send(res, { status: (status = 405), body: { error: 'method_not_allowed' } }, requestId);
      let body: Buffer;
      try {
        body = await readBody(req, route.maxBodyBytes ?? DEFAULT_MAX_BODY);
      } catch (e) {
        if (e instanceof BodyTooLarge) {
          status = 413;
          res.setHeader('connection', 'close');
          return send(res, { status, body: { error: 'payload_too_large', detail: `Bodies over ${route.maxBodyBytes ?? DEFAULT_MAX_BODY} bytes are refused` } }, requestId);
        }
        throw e;
      }
      const out = await route.handle({
        method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, requestId,
        remoteAddress: req.socket.remoteAddress,
      });
      status = out.status;
      send(res, out, requestId);
    } catch (e) {
      log.error({ err: e, requestId, path: url.pathname }, 'request failed');
      status = 500;
      if (!res.headersSent) send(res, { status, body: { error: 'internal_error', detail: `Something broke on our side; request id ${requestId}` } }, requestId);
      else res.end();
    } finally {
      inflight--;
      const ms = performance.now() - started;
      const pattern = typeof route === 'object' ? route.path : 'unmatched';
      observe?.(pattern, status, ms);
      // Probes and scrapes arrive every few seconds: keep them out of the info log.
      const quiet = (typeof route === 'object' && route.quiet === true) || pattern.startsWith('/health/') || pattern === '/metrics';
      const level = quiet ? 'debug' : 'info';
      if (log.isLevelEnabled(level)) log[level]({ method: req.method, path: url.pathname, route: pattern, status, ms: Math.round(ms) }, 'request');
    }
  };
  server.keepAliveTimeout = 5000;
  return {
    server,
    inflight: () => inflight,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
