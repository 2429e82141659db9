/**
 * Grafana's Alertmanager-compatible silences API for Grafana-managed alerts, faked at the HTTP
 * level on loopback (Grafana is a SaaS-like API here): `/api/alertmanager/grafana/api/v2/...`,
 * service-account token auth, and Grafana's own answers where they differ from Alertmanager's
 * (a new silence is 202 Accepted, errors are `{"message": ...}`, an unknown id is 404).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';

export interface FakeSilence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  expired: boolean;
}

export interface FakeGrafana {
  /** Base URL to configure: http://127.0.0.1:PORT/api/alertmanager/grafana */
  url: string;
  silences: FakeSilence[];
  /** Every request: method, path, Authorization header. */
  requests: { method: string; path: string; authorization: string | undefined }[];
  stop(): Promise<void>;
}

const PREFIX = '/api/alertmanager/grafana/api/v2';

const body = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString('utf8')));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });

export async function startFakeGrafana(token: string): Promise<FakeGrafana> {
  const silences: FakeSilence[] = [];
  const requests: FakeGrafana['requests'] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '').split('?')[0]!;
      requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { message: 'Unauthorized' });
      const state = (s: FakeSilence) => (s.expired || new Date(s.endsAt) <= new Date() ? 'expired' : new Date(s.startsAt) > new Date() ? 'pending' : 'active');
      const view = (s: FakeSilence) => ({ id: s.id, status: { state: state(s) }, updatedAt: s.startsAt, matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, createdBy: s.createdBy, comment: s.comment });
      if (req.method === 'POST' && path === `${PREFIX}/silences`) {
        const b = JSON.parse(await body(req)) as Omit<FakeSilence, 'id' | 'expired'>;
        if (!Array.isArray(b.matchers) || b.matchers.length === 0) return send(400, { message: 'silence failed validation', error: 'matchers in body is required' });
        if (b.matchers.some((m) => !m.name)) return send(400, { message: 'silence failed validation', error: 'matchers.name in body is required' });
        if (!(new Date(b.endsAt) > new Date(b.startsAt))) return send(400, { message: 'silence failed validation', error: 'start time must be before end time' });
        const s: FakeSilence = { ...b, id: randomUUID(), expired: false };
        silences.push(s);
        return send(202, { silenceID: s.id });
      }
      if (req.method === 'GET' && path === `${PREFIX}/silences`) return send(200, silences.map(view));
      const one = new RegExp(`^${PREFIX}/silence/([^/]+)$`).exec(path);
      if (one) {
        const s = silences.find((x) => x.id === decodeURIComponent(one[1]!));
        if (!s) return send(404, { message: 'silence not found' });
        if (req.method === 'GET') return send(200, view(s));
        if (req.method === 'DELETE') {
          s.expired = true;
          s.endsAt = new Date().toISOString();
          return send(200, { message: 'silence deleted' });
        }
      }
      send(404, { message: 'Not found' });
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/api/alertmanager/grafana`,
    silences,
    requests,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
