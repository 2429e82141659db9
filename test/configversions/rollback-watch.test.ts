import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createSlackClient, type SlackClient } from '../../src/slack/client.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { jobFailures, observeHttpRequest, readinessFailures } from '../../src/ops/metrics.js';
import { processErrorSignals, type ErrorSignals } from '../../src/configversions/error-signals.js';
import { rollbackConfigSchema, type RollbackConfig } from '../../src/configversions/rollback-config.js';
import { RollbackWatch, type RollbackTarget } from '../../src/configversions/rollback-watch.js';
import type { ConfigVersionRef } from '../../src/config/version-ref.js';
import { FakeSlack } from '../support/fake-slack.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const v = (id: number): ConfigVersionRef => ({ id, hash: `sha256:${id}` });

let slack: FakeSlack;
let client: SlackClient;
let http: HttpServer;
let base: string;
let db: TestDatabase;
const quiet = createLogger({ level: 'silent' });

beforeAll(async () => {
  slack = await new FakeSlack().start();
  slack.addChannel('ops', { id: 'C0OPS' });
  client = createSlackClient({ token: 'xoxb-test', apiUrl: slack.url, timeoutSeconds: 5, log: quiet, once: true });
  // A receiver that fails the way a bad route would: the real server answers 500 and meters it.
  http = createHttpServer(
    () => [
      { method: 'POST', path: '/webhooks/test', handle: async () => { throw new Error('route exploded'); } },
      { method: 'GET', path: '/health/ready', handle: async () => ({ status: 503, body: { status: 'not_ready' } }) },
    ],
    quiet,
    observeHttpRequest,
  );
  base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  db = await createTestDatabase('fb_rollback');
});
afterAll(async () => {
  await slack.stop();
  http.server.close();
  await db.drop();
});

/** `n` real Slack calls that fail with `error` (Slack answers ok:false). */
async function failSlackCalls(n: number, error = 'channel_not_found'): Promise<void> {
  slack.fail('chat.postMessage', error, { times: n });
  for (let i = 0; i < n; i++) await expect(client.chat.postMessage({ channel: 'C0GONE', text: 'hi' })).rejects.toThrow(error);
}

/** `n` real requests the receiver answers with 500. */
async function failReceiver(n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await fetch(`${base}/webhooks/test`, { method: 'POST', body: '{}' })).status).toBe(500);
}

interface Harness {
  watch: RollbackWatch;
  clock: FakeClock;
  calls: { failed: ConfigVersionRef; reason: string }[];
  lines: { msg: string; decision?: string; version?: number }[];
  /** Resolves once the watch has sampled `n` more times. */
  ticks(n?: number): Promise<void>;
  decided(decision: string, version: number): Promise<void>;
}

const watches: RollbackWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
});

function harness(overrides: Partial<RollbackConfig> = {}, target?: RollbackTarget): Harness {
  const clock = new FakeClock('2026-12-01T10:00:00Z');
  const calls: Harness['calls'] = [];
  const lines: Harness['lines'] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const real = processErrorSignals();
  let samples = 0;
  const signals: ErrorSignals = {
    sample: async () => {
      const s = await real.sample();
      samples++;
      return s;
    },
  };
  const config = rollbackConfigSchema.parse({ checkEverySeconds: 0.1, windowSeconds: 60, maxErrors: 5, ...overrides });
  const watch = new RollbackWatch({
    clock,
    log: createLogger({ level: 'debug', destination }),
    signals,
    config,
    target: target ?? {
      rollbackAutomatically: async (failed, reason) => {
        calls.push({ failed, reason });
        return 'rolled_back';
      },
    },
  });
  watches.push(watch);
  return {
    watch,
    clock,
    calls,
    lines,
    ticks: async (n = 2) => {
      const until = samples + n;
      await expect.poll(() => samples, { timeout: 5000, interval: 20 }).toBeGreaterThanOrEqual(until);
    },
    decided: async (decision, version) => {
      await expect.poll(() => lines.some((l) => l.decision === decision && l.version === version), { timeout: 5000, interval: 20 }).toBe(true);
    },
  };
}

describe('automatic rollback after a configuration switch', () => {
  it('lets a quiet window pass: errors up to maxErrors do not roll back, and the version is logged healthy', async () => {
    const h = harness();
    h.watch.onSwitched(v(7), v(6));
    expect(h.watch.watching).toEqual(v(7));
    await failSlackCalls(2);
    await h.ticks();
    h.clock.advance(61_000);
    await h.decided('healthy', 7);
    expect(h.calls).toEqual([]);
    expect(h.watch.watching).toBeUndefined();
    expect(h.lines.find((l) => l.decision === 'healthy')!.msg).toMatch(/version 7 considered healthy: 2 errors in the 60 s/);
  });

  it('rolls back exactly once when errors inside the window exceed maxErrors, naming the signals and counts', async () => {
    const h = harness();
    h.watch.onSwitched(v(7), v(6));
    await h.ticks(1); // the baseline is taken: errors from before the switch are not the version's
    h.clock.advance(40_000);
    // 4 + 2 = 6: only the last error crosses maxErrors (5), so whenever a tick sees it, it sees all.
    await failSlackCalls(4);
    await failReceiver(2);
    await expect.poll(() => h.calls.length, { timeout: 5000 }).toBe(1);
    expect(h.calls[0]!.failed).toEqual(v(7));
    expect(h.calls[0]!.reason).toBe('4 failed Slack calls (channel_not_found) and 2 receiver 5xx (/webhooks/test) in 40 s after switching to version 7');
    await h.decided('rolled_back', 7);
    // The window is closed: more errors cannot call the target again.
    expect(h.watch.watching).toBeUndefined();
    await failSlackCalls(6);
    expect(h.calls).toHaveLength(1);
    expect(h.lines.find((l) => l.decision === 'roll_back')!.msg).toContain('rolling configuration version 7 back: 4 failed Slack calls');
  });

  it('counts failed readiness probes and several Slack error codes', async () => {
    const h = harness({ maxErrors: 3 });
    h.watch.onSwitched(v(3), v(2));
    await h.ticks(1);
    await failSlackCalls(2, 'not_in_channel');
    await failSlackCalls(1, 'channel_not_found');
    readinessFailures.inc();
    await expect.poll(() => h.calls.length, { timeout: 5000 }).toBe(1);
    expect(h.calls[0]!.reason).toMatch(/^3 failed Slack calls \(not_in_channel ×2, channel_not_found ×1\) and 1 failed readiness probe in \d+ s after switching to version 3$/);
  });

  it('ignores errors after the window has passed', async () => {
    const h = harness();
    h.watch.onSwitched(v(7), v(6));
    await h.ticks(1);
    h.clock.advance(60_000);
    await h.decided('healthy', 7);
    await failSlackCalls(10);
    await failReceiver(3);
    expect(h.watch.watching).toBeUndefined();
    expect(h.calls).toEqual([]);
  });

  it('a second switch replaces the window: errors are counted from the newest switch and blamed on it', async () => {
    const h = harness();
    h.watch.onSwitched(v(7), v(6));
    await h.ticks(1);
    await failSlackCalls(4);
    await h.ticks();
    h.clock.advance(30_000);
    h.watch.onSwitched(v(8), v(7));
    expect(h.watch.watching).toEqual(v(8));
    await h.ticks(1);
    await failReceiver(3); // 7 since the first switch, 3 since the second: not enough
    await h.ticks();
    expect(h.calls).toEqual([]);
    await failReceiver(3); // 6 since the second
    await expect.poll(() => h.calls.length, { timeout: 5000 }).toBe(1);
    expect(h.calls[0]!.failed).toEqual(v(8));
    expect(h.calls[0]!.reason).toBe('6 receiver 5xx (/webhooks/test) in 0 s after switching to version 8');
  });

  it('does nothing when disabled, or when there is no previous version to go back to', async () => {
    const off = harness({ enabled: false });
    off.watch.onSwitched(v(7), v(6));
    expect(off.watch.watching).toBeUndefined();
    await off.decided('off', 7);
    const first = harness();
    first.watch.onSwitched(v(1), undefined);
    expect(first.watch.watching).toBeUndefined();
    await first.decided('no_previous', 1);
    await failSlackCalls(10);
    expect(off.calls).toEqual([]);
    expect(first.calls).toEqual([]);
  });

  it('retries a rollback call that threw at the next tick', async () => {
    let attempts = 0;
    const done: string[] = [];
    const h = harness({}, {
      rollbackAutomatically: async (_failed, reason) => {
        if (++attempts === 1) throw new Error('database away');
        done.push(reason);
        return 'rolled_back';
      },
    });
    h.watch.onSwitched(v(9), v(8));
    await h.ticks(1);
    await failReceiver(6);
    await expect.poll(() => done.length, { timeout: 5000 }).toBe(1);
    expect(attempts).toBe(2);
    await h.decided('rolled_back', 9);
  });

  it('counts a failed attempt of a real job in firebreak_job_failures_total{queue} and blames it on the switch', async () => {
    const h = harness({ maxErrors: 1 });
    const q = new JobQueue(db.pool, h.clock, quiet, 'replica-a');
    q.handle('config-probe', async () => {
      throw new Error('route target missing');
    });
    const before = (await jobFailures.get()).values.find((x) => x.labels.queue === 'config-probe')?.value ?? 0;
    h.watch.onSwitched(v(7), v(6));
    await h.ticks(1);
    await q.enqueue('config-probe', {}, { runAt: h.clock.now(), maxAttempts: 5 });
    await q.enqueue('config-probe', {}, { runAt: h.clock.now(), maxAttempts: 5, dedupeKey: 'second' });
    expect(await q.tick()).toBe(2);
    const after = (await jobFailures.get()).values.find((x) => x.labels.queue === 'config-probe')?.value ?? 0;
    expect(after - before).toBe(2);
    await expect.poll(() => h.calls.length, { timeout: 5000 }).toBe(1);
    expect(h.calls[0]!.reason).toMatch(/^2 failed job attempts \(config-probe\) in \d+ s after switching to version 7$/);
  });
});

describe('configChanges.rollback', () => {
  it('defaults to on, a 2 minute window, 5 errors, a check every 5 s', () => {
    expect(rollbackConfigSchema.parse(undefined)).toEqual({ enabled: true, windowSeconds: 120, maxErrors: 5, checkEverySeconds: 5 });
  });

  it('refuses unknown keys and a check interval longer than the window', () => {
    expect(rollbackConfigSchema.safeParse({ maxErrorz: 3 }).success).toBe(false);
    const r = rollbackConfigSchema.safeParse({ windowSeconds: 10, checkEverySeconds: 30 });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('must not exceed windowSeconds');
  });
});
