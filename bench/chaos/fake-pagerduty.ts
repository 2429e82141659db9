/**
 * PagerDuty's Events API v2 as PagerDuty behaves: POST /v2/enqueue answers 202 and keeps one
 * alert per dedup key (a re-sent trigger for an open key is absorbed, as PagerDuty does). It
 * records every event it received so the run can count deliveries per dedup key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedEvent {
  dedupKey: string;
  action: string;
  routingKey: string;
  at: number;
}

export class FakePagerDuty {
  readonly events: ReceivedEvent[] = [];
  /** dedup key -> how many times an alert was opened for it (a trigger on a key with no open alert). */
  readonly opened = new Map<string, number>();
  private open = new Set<string>();
  private server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  triggers(): ReceivedEvent[] {
    return this.events.filter((e) => e.action === 'trigger');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !/^\/v2\/(change\/)?enqueue$/.test(req.url ?? '')) return reply(404, { status: 'not found' });
    let data: { routing_key?: unknown; event_action?: unknown; dedup_key?: unknown };
    try {
      data = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof data;
    } catch {
      return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['invalid JSON'] });
    }
    const action = String(data.event_action ?? '');
    const dedupKey = String(data.dedup_key ?? '');
    if (!data.routing_key || !['trigger', 'acknowledge', 'resolve'].includes(action) || (action !== 'trigger' && !dedupKey)) {
      return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['missing fields'] });
    }
    this.events.push({ dedupKey, action, routingKey: String(data.routing_key), at: Date.now() });
    if (action === 'trigger' && !this.open.has(dedupKey)) {
      this.open.add(dedupKey);
      this.opened.set(dedupKey, (this.opened.get(dedupKey) ?? 0) + 1);
    }
    if (action === 'resolve') this.open.delete(dedupKey);
    reply(202, { status: 'success', message: 'Event processed', dedup_key: dedupKey });
  }
}
