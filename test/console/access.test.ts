/**
 * Who can use the console, over real HTTP against the real app: on a laptop only this
 * machine's browser pages (Host, Origin, JSON and a per-session CSRF header stop other sites
 * and DNS rebinding); exposed, only people who signed in with their own login link, each
 * acting only as themselves.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { ConsoleSurface } from '../../src/console/surface.js';
import { consoleRoutes } from '../../src/console/routes.js';
import { ConsoleAccess, CSRF_HEADER, printLoginLinks } from '../../src/console/access.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => Record<string, unknown>;
}

/** A raw request: fetch would not let a test send a foreign Host header. */
function call(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host: `localhost:${port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const cookieOf = (a: Answer): string => String(a.headers['set-cookie']?.[0] ?? '').split(';')[0]!;

/** Info-level log lines the app wrote, parsed. */
const logLines: Array<Record<string, unknown>> = [];
const capture = { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) };

async function startConsole(db: TestDatabase, consoleConfig: Record<string, unknown>) {
  const config = configSchema.parse({ databaseUrl: db.url, port: 0, logLevel: 'silent', console: consoleConfig });
  const surface = new ConsoleSurface(db.pool, { crossReplicaCheckMs: 60_000 });
  const access = new ConsoleAccess(config.console);
  const log = createLogger({ level: 'info', destination: capture });
  const app = await createApp({ config, pool: db.pool, log, chat: surface, edgeRoutes: (a) => consoleRoutes(a, surface, { access, maxWaitMs: 120_000 }) });
  const port = await app.listen(0, '127.0.0.1');
  return { app, surface, access, port };
}

describe('the console on a laptop (not exposed)', () => {
  let db: TestDatabase;
  let app: FirebreakApp;
  let surface: ConsoleSurface;
  let port: number;
  let cookie: string;
  let csrf: string;
  const origin = () => `http://localhost:${port}`;
  const good = () => ({ cookie, [CSRF_HEADER]: csrf, 'content-type': 'application/json', origin: origin() });
  const declare = (title: string, headers: Record<string, string>) =>
    call(port, 'POST', '/console/api/command', { headers, body: JSON.stringify({ user: 'U0ALICE', channel: 'incidents', text: `/incident declare P2 ${title}` }) });
  const incidents = async () => (await db.pool.query<{ title: string }>('SELECT title FROM incidents ORDER BY id')).rows.map((r) => r.title);

  beforeAll(async () => {
    db = await createTestDatabase('fb_console_access');
    ({ app, surface, port } = await startConsole(db, {}));
    const page = await call(port, 'GET', '/console');
    expect(page.status).toBe(200);
    cookie = cookieOf(page);
    expect(page.headers['set-cookie']?.[0]).toMatch(/HttpOnly/);
    expect(page.headers['set-cookie']?.[0]).toMatch(/SameSite=Strict/);
    const s = await call(port, 'GET', '/console/api/session', { headers: { cookie } });
    csrf = s.json().csrf as string;
    expect(csrf).toMatch(/^[\w-]{20,}$/);
  }, 60_000);
  afterAll(async () => {
    await app?.stop(1000);
    await db?.drop();
  });

  it('refuses a text/plain POST from a foreign site, and declares nothing', async () => {
    const r = await declare('From evil', { cookie, [CSRF_HEADER]: csrf, 'content-type': 'text/plain', origin: 'https://evil.example' });
    expect(r.status).toBe(403);
    // The same form post without the CSRF header a foreign page cannot read, from a foreign origin.
    const r2 = await declare('From evil', { cookie, 'content-type': 'text/plain', origin: 'https://evil.example' });
    expect(r2.status).toBe(403);
    expect(await incidents()).toEqual([]);
  });

  it('refuses a request naming another Host (DNS rebinding), even with a valid session', async () => {
    const r = await call(port, 'GET', '/console/api/state?user=U0ALICE', { headers: { ...good(), host: 'rebind.attacker.example' } });
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('channels');
    expect((await call(port, 'GET', '/console', { headers: { host: `rebind.attacker.example:${port}` } })).status).toBe(403);
  });

  it('refuses API calls without the CSRF header, with a wrong one, without JSON, or without a session', async () => {
    const { [CSRF_HEADER]: _drop, ...noCsrf } = good();
    expect((await declare('No CSRF', noCsrf)).status).toBe(403);
    expect((await declare('Wrong CSRF', { ...good(), [CSRF_HEADER]: 'x'.repeat(43) })).status).toBe(403);
    expect((await declare('Form post', { ...good(), 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(403);
    expect((await call(port, 'GET', '/console/api/state?user=U0ALICE', { headers: noCsrf })).status).toBe(403);
    const { cookie: _c, ...noSession } = good();
    expect((await declare('No session', noSession)).status).toBe(401);
    expect(await incidents()).toEqual([]);
  });

  it('answers an oversized body 413 and text PostgreSQL cannot hold with a 4xx, never a 5xx, and declares nothing', async () => {
    const big = await call(port, 'POST', '/console/api/command', { headers: good(), body: JSON.stringify({ user: 'U0ALICE', channel: 'incidents', text: `/incident declare P2 ${'x'.repeat(20_000)}` }) });
    expect(big.status).toBe(413);
    for (const title of ['Nul\u0000here', 'Lone\ud800surrogate']) {
      const r = await declare(title, good());
      expect(r.status, r.body).toBeGreaterThanOrEqual(400);
      expect(r.status, r.body).toBeLessThan(500);
    }
    expect(await incidents()).toEqual([]);
  });

  it('serves this machine\'s page: JSON with the CSRF header from a loopback origin works, as any picked user', async () => {
    expect((await declare('Checkout is failing', good())).status).toBe(200);
    await expect.poll(incidents, { timeout: 10_000 }).toEqual(['Checkout is failing']);
    const asBob = await call(port, 'GET', '/console/api/state?user=U0BOB', { headers: good() });
    expect(asBob.status).toBe(200);
  });

  it('answers only clients on this machine unless exposed', () => {
    const access = new ConsoleAccess({});
    const headers = { host: 'localhost:3000' };
    expect(access.checkOrigin({ headers, remoteAddress: '127.0.0.1' })).toBeUndefined();
    expect(access.checkOrigin({ headers, remoteAddress: '::1' })).toBeUndefined();
    expect(access.checkOrigin({ headers, remoteAddress: '10.0.0.5' })?.status).toBe(403);
    expect(access.checkOrigin({ headers, remoteAddress: '::ffff:192.168.1.9' })?.status).toBe(403);
  });

  it('pushes a change to a waiting page as soon as it happens (long-poll), never answering "nothing new" early', async () => {
    const room = await surface.createChannel('longpoll');
    let cursor = (await call(port, 'GET', '/console/api/state?user=U0CAROL', { headers: good() })).json().cursor as number;
    const poll = () => call(port, 'GET', `/console/api/state?user=U0CAROL&since=${cursor}&wait=60`, { headers: good() });
    let waiting = poll();
    await surface.post(room.id, { text: 'deploy finished' });
    // Other work (the incident declared above) may wake the page first: follow it as the page does.
    for (;;) {
      const r = (await waiting).json();
      // Woken only by a change: the cursor always moves (the wait is 60 s, far beyond this test).
      expect(r.cursor as number).toBeGreaterThan(cursor);
      cursor = r.cursor as number;
      const mine = (r.messages as Array<{ channel: string; text: string }>).filter((m) => m.channel === room.id).map((m) => m.text);
      if (mine.length) {
        expect(mine).toEqual(['deploy finished']);
        break;
      }
      waiting = poll();
    }
  });

  it('keeps the page\'s update requests out of the info log, unlike its actions', async () => {
    for (let n = 0; n < 3; n++) expect((await call(port, 'GET', '/console/api/state?user=U0ALICE', { headers: good() })).status).toBe(200);
    expect((await declare('Logged', good())).status).toBe(200);
    const requests = logLines.filter((l) => l.msg === 'request');
    expect(requests.filter((l) => l.route === '/console/api/command').length).toBeGreaterThan(0);
    expect(requests.filter((l) => l.route === '/console/api/state')).toEqual([]);
  });

  it('answers /favicon.ico', async () => {
    const r = await call(port, 'GET', '/favicon.ico');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/svg+xml');
  });
});

describe('the console exposed (console.publicUrl set)', () => {
  let db: TestDatabase;
  let app: FirebreakApp;
  let surface: ConsoleSurface;
  let access: ConsoleAccess;
  let port: number;
  const publicHost = 'console.example.test';

  const login = async (user: string) => {
    const link = new URL(access.loginLink(user));
    const r = await call(port, 'GET', link.pathname + link.search, { headers: { host: publicHost } });
    expect(r.status).toBe(303);
    const cookie = cookieOf(r);
    const s = await call(port, 'GET', '/console/api/session', { headers: { host: publicHost, cookie } });
    return { cookie, csrf: s.json().csrf as string, setCookie: String(r.headers['set-cookie']?.[0]) };
  };
  const headersFor = (s: { cookie: string; csrf: string }) => ({
    host: publicHost, origin: `https://${publicHost}`, cookie: s.cookie, [CSRF_HEADER]: s.csrf, 'content-type': 'application/json',
  });

  beforeAll(async () => {
    db = await createTestDatabase('fb_console_exposed');
    ({ app, surface, access, port } = await startConsole(db, { publicUrl: `https://${publicHost}`, secret: 's'.repeat(40) }));
  }, 60_000);
  afterAll(async () => {
    await app?.stop(1000);
    await db?.drop();
  });

  it('answers 401 to the page and the API without a login, and to a wrong login token', async () => {
    expect((await call(port, 'GET', '/console', { headers: { host: publicHost } })).status).toBe(401);
    expect((await call(port, 'GET', '/console/api/session', { headers: { host: publicHost } })).status).toBe(401);
    expect((await call(port, 'GET', '/console/api/state?user=U0ALICE', { headers: { host: publicHost } })).status).toBe(401);
    const post = await call(port, 'POST', '/console/api/command', {
      headers: { host: publicHost, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'U0ALICE', channel: 'incidents', text: '/incident declare P1 x' }),
    });
    expect(post.status).toBe(401);
    const forged = await call(port, 'GET', `/console/login?user=U0ALICE&token=${access.loginToken('U0BOB')}`, { headers: { host: publicHost } });
    expect(forged.status).toBe(401);
    expect(forged.headers['set-cookie']).toBeUndefined();
  });

  it('does not accept a laptop session or one signed with another secret', async () => {
    const laptop = new ConsoleAccess({}).newSession(null).setCookie.split(';')[0]!;
    expect((await call(port, 'GET', '/console/api/session', { headers: { host: publicHost, cookie: laptop } })).status).toBe(401);
    const other = new ConsoleAccess({ publicUrl: `https://${publicHost}`, secret: 'o'.repeat(40) }).newSession('U0ALICE').setCookie.split(';')[0]!;
    expect((await call(port, 'GET', '/console/api/session', { headers: { host: publicHost, cookie: other } })).status).toBe(401);
  });

  it('signs a person in with their link as an HttpOnly, SameSite=Strict, Secure cookie', async () => {
    const alice = await login('U0ALICE');
    expect(alice.setCookie).toMatch(/HttpOnly/);
    expect(alice.setCookie).toMatch(/SameSite=Strict/);
    expect(alice.setCookie).toMatch(/Secure/);
    const page = await call(port, 'GET', '/console', { headers: { host: publicHost, cookie: alice.cookie } });
    expect(page.status).toBe(200);
    const s = await call(port, 'GET', '/console/api/session', { headers: { host: publicHost, cookie: alice.cookie } });
    expect(s.json()).toMatchObject({ exposed: true, user: 'U0ALICE' });
  });

  it("fixes the user at login: Alice cannot read Bob's DMs and ephemerals or act as Bob", async () => {
    await surface.postDirect('U0BOB', { text: 'secret for bob' });
    await surface.postEphemeral('ops', 'U0BOB', { text: 'only bob sees this' });
    const alice = await login('U0ALICE');
    const asBob = await call(port, 'GET', '/console/api/state?user=U0BOB', { headers: headersFor(alice) });
    expect(asBob.status).toBe(403);
    expect(asBob.body).not.toContain('secret for bob');
    const own = await call(port, 'GET', '/console/api/state', { headers: headersFor(alice) });
    expect(own.status).toBe(200);
    expect(own.body).not.toContain('secret for bob');
    expect(own.body).not.toContain('only bob sees this');

    const actAsBob = await call(port, 'POST', '/console/api/command', {
      headers: headersFor(alice), body: JSON.stringify({ user: 'U0BOB', channel: 'incidents', text: '/incident declare P2 As bob' }),
    });
    expect(actAsBob.status).toBe(403);
    const asSelf = await call(port, 'POST', '/console/api/command', {
      headers: headersFor(alice), body: JSON.stringify({ channel: 'incidents', text: '/incident declare P2 Signed in as alice' }),
    });
    expect(asSelf.status).toBe(200);
    await expect.poll(async () => (await db.pool.query('SELECT title, declared_by FROM incidents')).rows, { timeout: 10_000 })
      .toEqual([{ title: 'Signed in as alice', declared_by: 'U0ALICE' }]);
  });

  it('accepts its public origin and loopback, and refuses other origins and hosts even when signed in', async () => {
    const bob = await login('U0BOB');
    expect((await call(port, 'GET', '/console/api/state', { headers: headersFor(bob) })).status).toBe(200);
    expect((await call(port, 'GET', '/console/api/state', { headers: { ...headersFor(bob), host: `localhost:${port}`, origin: `http://localhost:${port}` } })).status).toBe(200);
    expect((await call(port, 'GET', '/console/api/state', { headers: { ...headersFor(bob), origin: 'https://evil.example' } })).status).toBe(403);
    expect((await call(port, 'GET', '/console/api/state', { headers: { ...headersFor(bob), host: 'rebind.attacker.example' } })).status).toBe(403);
  });

  it('prints one login link per user, to the terminal stream it is given', () => {
    let out = '';
    printLoginLinks(access, ['U0ALICE', 'U0BOB'], { write: (s: string) => (out += s) });
    expect(out).toContain(access.loginLink('U0ALICE'));
    expect(out).toContain(access.loginLink('U0BOB'));
    expect(access.loginLink('U0ALICE')).toMatch(/^https:\/\/console\.example\.test\/console\/login\?user=U0ALICE&token=/);
  });
});

describe('console exposure settings', () => {
  it('refuses a short secret and a public URL that is not http(s)', () => {
    expect(() => configSchema.parse({ console: { publicUrl: 'ftp://c.example' } })).toThrow(/http/);
    expect(() => configSchema.parse({ console: { publicUrl: 'https://c.example', secret: 'short' } })).toThrow(/16/);
  });
});
