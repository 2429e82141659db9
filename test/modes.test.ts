/**
 * Which mode the real process starts in: a complete Slack set, no Slack secret at all (the
 * console, on loopback only), or nothing — a partial Slack set stops the start naming what is
 * missing, and `config check` says the same.
 */
import { spawn } from 'node:child_process';
import { spawnMain, stopChild } from './ops/support/process.js';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from './support/db.js';
import { freePort } from './setup/global.js';
import { FakeSlack } from './support/fake-slack.js';

const BOT = { SLACK_BOT_TOKEN: 'xoxb-partial-token' };
const SIGNING = { SLACK_SIGNING_SECRET: 'partial-signing-secret' };
const APP = { SLACK_APP_TOKEN: 'xapp-partial-token' };

function run(script: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...script], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('a partial Slack configuration', () => {
  const partial: [string, Record<string, string>, string[]][] = [
    ['bot token alone', BOT, ['SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN']],
    ['signing secret alone', SIGNING, ['SLACK_BOT_TOKEN']],
    ['app token alone', APP, ['SLACK_BOT_TOKEN']],
    ['signing secret and app token', { ...SIGNING, ...APP }, ['SLACK_BOT_TOKEN']],
  ];

  it.each(partial)('with the %s: the process exits 1 naming what is missing, and config check agrees', async (_name, env, missing) => {
    // DATABASE_URL points nowhere: the start must stop before it would need a database.
    const full = { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const [start, check] = await Promise.all([run(['src/main.ts'], full), run(['src/cli.ts', 'config', 'check'], full)]);
    for (const r of [start, check]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Slack mode is incomplete');
      for (const name of missing) expect(r.stderr).toContain(`${name}`);
      for (const value of Object.values(env)) expect(r.stderr + r.stdout).not.toContain(value);
    }
    expect(start.stderr).toContain('Firebreak did not start');
    expect(start.stdout).not.toContain('"mode":"console"');
  }, 120_000);
});

/** Local addresses of sockets listening on `port` (IPv4 and IPv6), from /proc/net. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, p] = cols[1]!.split(':');
      if (p !== hexPort) continue;
      out.push(file.endsWith('6') ? (/^0+$/.test(addr!) ? '::' : addr!) : addr!.match(/../g)!.reverse().map((h) => parseInt(h, 16)).join('.'));
    }
  }
  return out;
}

describe('console mode (no Slack secret at all)', () => {
  let db: { url: string; drop(): Promise<void> };
  let child: ReturnType<typeof spawn>;
  let output: () => string;
  let port: number;

  beforeAll(async () => {
    db = await createEmptyDatabase('fb_modes');
    port = await freePort();
    ({ child, output } = await spawnMain({ DATABASE_URL: db.url, PORT: String(port) }, 'local console'));
  }, 90_000);

  afterAll(async () => {
    await stopChild(child);
    await db?.drop();
  }, 60_000);

  it('listens on 127.0.0.1 only, and says so', async () => {
    expect(listeningAddresses(port)).toEqual(['127.0.0.1']);
    expect(output()).toContain('"host":"127.0.0.1"');
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });
});

/** An IPv4 address of this machine that is not loopback, to reach the server as another host would. */
const otherAddress = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe('the console next to Slack (FIREBREAK_CONSOLE_WITH_SLACK=true)', () => {
  let db: { url: string; drop(): Promise<void> };
  let slack: FakeSlack;
  let child: ReturnType<typeof spawn>;
  let port: number;

  beforeAll(async () => {
    slack = await new FakeSlack().start();
    db = await createEmptyDatabase('fb_modes_both');
    port = await freePort();
    ({ child } = await spawnMain({
      DATABASE_URL: db.url, PORT: String(port),
      SLACK_BOT_TOKEN: 'xoxb-both-token', SLACK_SIGNING_SECRET: 'both-signing-secret', SLACK_API_URL: slack.url, FIREBREAK_CONSOLE_WITH_SLACK: 'true',
    }, 'also served to this machine'));
  }, 90_000);

  afterAll(async () => {
    await stopChild(child);
    await slack?.stop();
    await db?.drop();
  }, 60_000);

  it('serves Slack on every interface and the console to loopback clients only', async () => {
    expect(listeningAddresses(port).some((a) => a === '0.0.0.0' || a === '::')).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/console`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', body: 'x' })).status).toBe(401);
  });

  it.skipIf(!otherAddress)('refuses the console to a client on another address', async () => {
    const res = await fetch(`http://${otherAddress}:${port}/console`);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'local_only' });
    // Slack's path still answers there (401 unsigned): only the console is local.
    expect((await fetch(`http://${otherAddress}:${port}/slack/events`, { method: 'POST', body: 'x' })).status).toBe(401);
  });
});
