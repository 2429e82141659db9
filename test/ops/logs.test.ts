import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from '../../src/log.js';
import { loadConfig } from '../../src/config/load.js';
import { ENV_BINDINGS } from '../../src/config/env.js';
import { withRequestContext, annotateRequest } from '../../src/ops/request-context.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

/** A value each secret binding accepts, random so it can only appear if it leaked. */
function secretValue(env: string): string {
  const r = randomBytes(10).toString('hex');
  if (env === 'SLACK_BOT_TOKEN') return `xoxb-${r}`;
  if (env === 'SLACK_APP_TOKEN') return `xapp-${r}`;
  if (env.endsWith('_URL')) return `postgres://firebreak:pw${r}@db.internal:5432/firebreak`;
  if (env.endsWith('_IDENTITY')) return `AGE-SECRET-KEY-1${r.toUpperCase()}`;
  if (env === 'FIREBREAK_CONSOLE_SECRET') return `s${r}${r}`;
  return `s${r}`;
}

describe('log redaction', () => {
  it('blanks every secret the environment binds, even when the whole config is logged', () => {
    const env: Record<string, string> = {};
    for (const b of ENV_BINDINGS.filter((x) => x.secret)) env[b.env] = secretValue(b.env);
    // The console's secret is only accepted for an exposed console.
    // So is the Statuspage key only with the page it syncs to.
    const config = loadConfig({ ...env, FIREBREAK_CONSOLE_PUBLIC_URL: 'https://ops.example.com' }, { statusPage: { atlassian: { pageId: 'kctbh9vrtdwd', apiKey: env.STATUSPAGE_API_KEY } } });
    const { log, lines } = capture();
    log.info({ config }, 'config loaded');
    for (const [section, value] of Object.entries(config)) log.info({ [section]: value }, `section ${section}`);
    log.warn({ headers: { authorization: `Bearer ${env.ALERTMANAGER_WEBHOOK_TOKEN}`, 'x-slack-signature': 'v0=abc', cookie: 'sid=1' } }, 'headers');
    log.info({ database: redactUrl(env.DATABASE_URL!) }, 'using PostgreSQL');
    const out = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const [name, value] of Object.entries(env)) {
      const needle = name.endsWith('_URL') ? new URL(value).password : value;
      expect(out.includes(needle), `${name} leaked`).toBe(false);
    }
    expect(out).toContain('[redacted]');
    // Non-secret settings stay readable.
    expect(out).toContain('"dataDir":".data"');
  });

  it('adds the request id, action and incident id of the current request to every line', async () => {
    const { log, lines } = capture();
    log.info('outside any request');
    await withRequestContext({ requestId: 'req-1' }, async () => {
      annotateRequest({ action: '/incident declare' });
      log.info('first');
      await new Promise((r) => setTimeout(r, 5));
      annotateRequest({ incidentId: 42 });
      log.info({ action: 'incident.declared' }, 'second');
    });
    const [outside, first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside!.requestId).toBeUndefined();
    expect(first).toMatchObject({ requestId: 'req-1', action: '/incident declare' });
    // A line's own fields win over the request's.
    expect(second).toMatchObject({ requestId: 'req-1', action: 'incident.declared', incidentId: 42 });
  });
});

describe('log format by where stdout goes', () => {
  const program = `import { createLogger } from './src/log.ts'; const l = createLogger({ level: 'info' }); l.info({ incidentId: 7 }, 'incident declared'); l.warn('slow ack');`;
  const hasScript = spawnSync('script', ['--version']).status === 0;

  // `script` runs the program on a pseudo-terminal, as a person's `npm start` would.
  it.skipIf(!hasScript)('a terminal gets one coloured line per event from pino-pretty, not JSON', () => {
    const r = spawnSync('script', ['-qec', `${process.execPath} --import tsx -e "${program}"`, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, LOG_LEVEL: '' } });
    // Colour escapes made visible, so the patterns below can name them.
    const lines = r.stdout.replaceAll('\u001b', '<ESC>').split(/\r?\n/).filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] <ESC>\[32mINFO<ESC>\[39m: <ESC>\[36mincident declared<ESC>\[39m .*"incidentId":7/);
    expect(lines[1]).toMatch(/<ESC>\[33mWARN<ESC>\[39m: .*slow ack/);
    expect(r.stdout).not.toContain('"msg"');
  });

  it('a pipe gets JSON lines', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', program], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, LOG_LEVEL: '' } });
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[30, 'incident declared'], [40, 'slow ack']]);
  });
});
