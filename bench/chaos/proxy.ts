/**
 * A small fault-injecting reverse proxy on loopback. Put in front of one dependency (Slack,
 * PagerDuty, S3), it forwards requests untouched until a fault is armed; then the next matching
 * requests get that fault: latency, 429 with Retry-After, 500/503, a reset connection, or a
 * stall past the client's timeout. It counts every fault it actually applied.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export const PROXY_FAULTS = ['latency', 'http429', 'http500', 'http503', 'reset', 'stall'] as const;
export type ProxyFault = (typeof PROXY_FAULTS)[number];

export interface ArmedFault {
  kind: ProxyFault;
  /** How many matching requests get the fault. */
  times: number;
  /** Only requests whose method+URL pass this test (e.g. multipart part uploads). */
  match?: (method: string, url: string) => boolean;
  /**
   * A fault lands at its moment: if no matching request comes within this long it lapses
   * instead of waiting. Without it, faults armed against a quiet dependency (PagerDuty sees a
   * request every few seconds) pile up and turn into one long outage.
   */
  ttlMs?: number;
}

export interface FaultProxyOptions {
  name: string;
  /** http://127.0.0.1:PORT of the real (fake) server behind the proxy. */
  target: string;
  /** Serve TLS (PagerDuty's client only speaks https). */
  tls?: { key: string; cert: string };
  latencyMs?: number;
  /** How long a stalled request is held before its connection is dropped. */
  stallMs?: number;
  retryAfterSeconds?: number;
  /** The error body the dependency would send (Slack JSON, S3 XML, ...). */
  errorBody?: (status: number) => { contentType: string; body: string };
}

export class FaultProxy {
  readonly applied: Record<ProxyFault, number> = { latency: 0, http429: 0, http500: 0, http503: 0, reset: 0, stall: 0 };
  forwarded = 0;
  private armed: (ArmedFault & { until: number })[] = [];
  /** Faults that lapsed with no matching request. */
  lapsed = 0;
  private sockets = new Set<Socket>();
  private server: http.Server;
  url = '';

  constructor(private opts: FaultProxyOptions) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
    this.server.on(opts.tls ? 'secureConnection' : 'connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  arm(f: ArmedFault): void {
    this.armed.push({ ...f, until: f.ttlMs === undefined ? Infinity : performance.now() + f.ttlMs });
  }

  /** Faults armed but not yet applied (no matching request came). */
  pending(): number {
    return this.armed.reduce((n, f) => n + f.times, 0);
  }

  disarm(): void {
    this.armed = [];
  }

  total(): number {
    return Object.values(this.applied).reduce((a, b) => a + b, 0);
  }

  private take(method: string, url: string): ProxyFault | undefined {
    const now = performance.now();
    const live = this.armed.filter((f) => f.until > now);
    this.lapsed += this.armed.length - live.length;
    this.armed = live;
    const i = this.armed.findIndex((f) => !f.match || f.match(method, url));
    if (i < 0) return undefined;
    const f = this.armed[i]!;
    if (--f.times <= 0) this.armed.splice(i, 1);
    this.applied[f.kind]++;
    return f.kind;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return;
    }
    const body = Buffer.concat(chunks);
    const fault = this.take(req.method ?? 'GET', req.url ?? '/');
    switch (fault) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'stall':
        // Hold the request past the client's timeout, then drop it without an answer.
        setTimeout(() => req.socket.destroy(), this.opts.stallMs ?? 15_000).unref();
        return;
      case 'http429':
      case 'http500':
      case 'http503': {
        const status = fault === 'http429' ? 429 : fault === 'http500' ? 500 : 503;
        const e = this.opts.errorBody?.(status) ?? { contentType: 'application/json', body: JSON.stringify({ error: `injected ${status}` }) };
        const headers: Record<string, string> = { 'content-type': e.contentType };
        if (status !== 500) headers['retry-after'] = String(this.opts.retryAfterSeconds ?? 1);
        res.writeHead(status, headers);
        res.end(e.body);
        return;
      }
      case 'latency':
        await new Promise((r) => setTimeout(r, this.opts.latencyMs ?? 1500));
        break;
      default:
        break;
    }
    this.forward(req, res, body);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    this.forwarded++;
    const target = new URL(this.opts.target);
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    up.end(body);
  }
}
