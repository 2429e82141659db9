/**
 * Slack's Socket Mode, faked on loopback: `apps.connections.open` (answered through FakeSlack,
 * with the app-level token) hands out a ws:// URL; each connection gets `hello`, then envelopes
 * (`slash_commands`, `interactive`, `events_api`) that the app must ack with their envelope_id.
 * Like Slack, an envelope not acked when its connection goes away is delivered again on the
 * next one, with `retry_attempt` counting up.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FakeSlack } from './fake-slack.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt: number;
  retry_reason: string;
}

export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export class FakeSocketMode {
  readonly acks: Ack[] = [];
  /** Every envelope sent, redeliveries included, in order. */
  readonly delivered: Envelope[] = [];
  /** Tokens apps.connections.open was called with. */
  readonly opens: (string | undefined)[] = [];
  private server = http.createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  private wss = new WebSocketServer({ noServer: true });
  private current: WebSocket | undefined;
  private connections = 0;
  private unacked = new Map<string, Envelope>();
  private ackWaiters = new Map<string, (a: Ack) => void>();
  private connectWaiters: (() => void)[] = [];

  constructor(private appToken: string) {}

  async start(slack: FakeSlack): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as AddressInfo).port;
    this.server.on('upgrade', (req, socket, head) => this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws)));
    slack.handleMethod('apps.connections.open', (_args, token) => {
      this.opens.push(token);
      if (token !== this.appToken) return { ok: false, error: 'invalid_auth' };
      return { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${randomBytes(8).toString('hex')}` };
    });
    return this;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Resolves once `n` connections have said hello (counting from the start). */
  connected(n = 1): Promise<void> {
    if (this.connections >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.connections >= n) resolve();
        else this.connectWaiters.push(check);
      };
      this.connectWaiters.push(check);
    });
  }

  get connectionCount(): number {
    return this.connections;
  }

  /** Sends an envelope on the open connection; resolves with the app's ack. */
  deliver(type: EnvelopeType, payload: Record<string, unknown>, opts: { envelopeId?: string; retryAttempt?: number } = {}): Promise<Ack> {
    const envelope: Envelope = {
      envelope_id: opts.envelopeId ?? randomBytes(12).toString('hex'),
      type, payload,
      accepts_response_payload: type !== 'events_api',
      retry_attempt: opts.retryAttempt ?? 0,
      retry_reason: opts.retryAttempt ? 'timeout' : '',
    };
    const acked = new Promise<Ack>((resolve) => this.ackWaiters.set(envelope.envelope_id, resolve));
    this.unacked.set(envelope.envelope_id, envelope);
    this.send(envelope);
    return acked;
  }

  /** Slack recycling the connection: a `disconnect` envelope; the app closes and reconnects. */
  disconnect(reason: 'refresh_requested' | 'warning' = 'refresh_requested'): void {
    const ws = this.current;
    if (!ws) throw new Error('no open Socket Mode connection');
    ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake' } }));
    // Nothing more goes out on this connection: later envelopes wait for the next one.
    this.current = undefined;
  }

  /**
   * Sends `envelope` only when a connection is open; otherwise it waits in `unacked` for
   * the next one, as Slack holds events while an app reconnects.
   */
  private send(envelope: Envelope): void {
    if (!this.current) return;
    this.delivered.push(envelope);
    this.current.send(JSON.stringify(envelope));
  }

  private onConnection(ws: WebSocket): void {
    this.current = ws;
    this.connections++;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Ack;
      if (!msg.envelope_id) return;
      this.acks.push(msg);
      this.unacked.delete(msg.envelope_id);
      this.ackWaiters.get(msg.envelope_id)?.(msg);
      this.ackWaiters.delete(msg.envelope_id);
    });
    ws.on('close', () => {
      if (this.current === ws) this.current = undefined;
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0TEST' } }));
    // What the last connection left unacked arrives again here, marked as a retry.
    for (const e of [...this.unacked.values()]) this.send({ ...e, retry_attempt: e.retry_attempt + 1, retry_reason: 'timeout' });
    const waiters = this.connectWaiters.splice(0);
    for (const w of waiters) w();
  }
}
