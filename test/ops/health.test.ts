import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { cachedCheck, runChecks } from '../../src/ops/health.js';

const backupDir = mkdtempSync(path.join(tmpdir(), 'fb-ops-health-'));
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ config: { backups: { storage: { localDir: backupDir } }, ops: { chatCheckCacheSeconds: 3600 } } });
});
afterAll(async () => {
  await t.stop();
  rmSync(backupDir, { recursive: true, force: true });
});

interface ProbeBody {
  status: string;
  replica?: string;
  checks: Record<string, { status: string; required?: boolean; latencyMs?: number; error?: string; chatMode?: string }>;
}

const get = async (p: string) => {
  const res = await fetch(t.url + p);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as ProbeBody };
};

describe('probes', () => {
  it('/health/live answers JSON without consulting dependencies', async () => {
    const r = await get('/health/live');
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/json');
    expect(r.body).toMatchObject({ status: 'ok', replica: t.app.ctx.replicaId });
  });

  it('/health/startup reports migrations applied and config loaded', async () => {
    const r = await get('/health/startup');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('started');
    expect(r.body.checks.migrations!.status).toBe('applied');
    expect(r.body.checks.config).toMatchObject({ status: 'loaded', chatMode: 'slack-http' });
  });

  it('/health/startup is 503 "starting" while a migration is not applied', async () => {
    const { rows } = await t.db.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name DESC LIMIT 1');
    const last = rows[0]!.name;
    await t.db.pool.query('DELETE FROM schema_migrations WHERE name = $1', [last]);
    try {
      const r = await get('/health/startup');
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('starting');
      expect(r.body.checks.migrations!.status).toBe('pending_or_unreachable');
    } finally {
      await t.db.pool.query('INSERT INTO schema_migrations (name) VALUES ($1)', [last]);
    }
    expect((await get('/health/startup')).status).toBe(200);
  });

  it('/health/ready checks PostgreSQL, the object store and Slack, each with status and latency', async () => {
    const r = await get('/health/ready');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');
    for (const name of ['database', 'objectStore', 'chat', 'channels']) {
      expect(r.body.checks[name]).toMatchObject({ status: 'up' });
      expect(typeof r.body.checks[name]!.latencyMs).toBe('number');
    }
    expect(r.body.checks.database!.required).toBe(true);
    expect(r.body.checks.chat!.required).toBe(false);
  });

  it('caches Slack auth.test: probes every few seconds spend no rate limit', async () => {
    const before = t.slack.callsTo('auth.test').length;
    for (let i = 0; i < 5; i++) expect((await get('/health/ready')).body.checks.chat!.status).toBe('up');
    expect(t.slack.callsTo('auth.test').length).toBe(before);
  });

  it('answers 503 "draining" before anything else once shutdown begins', async () => {
    t.app.lifecycle.beginDrain();
    try {
      const r = await get('/health/ready');
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('draining');
      // Liveness is unaffected: a draining replica must not be restarted mid-drain.
      expect((await get('/health/live')).status).toBe(200);
    } finally {
      (t.app.lifecycle as unknown as { drainingSince: Date | null }).drainingSince = null;
    }
  });
});

describe('runChecks', () => {
  it('marks a required check down as not ready and bounds a hung check by the timeout', async () => {
    const checks = {
      database: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED postgres://fb:hunter2@db:5432/x'), { code: 'ECONNREFUSED' });
      },
      chat: () => new Promise<void>(() => {}),
      objectStore: async () => {},
    };
    const r = await runChecks(checks, ['database'], 50);
    expect(r.database).toMatchObject({ status: 'down', required: true });
    expect(r.database!.error).not.toContain('hunter2');
    expect(r.chat).toMatchObject({ status: 'down', required: false, error: 'no answer within 50 ms' });
    expect(r.objectStore).toMatchObject({ status: 'up' });
  });

  it('cachedCheck serves the cached answer, and re-checks a failure within 5 s', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const check = cachedCheck(async () => {
      calls++;
      if (fail) throw new Error('invalid_auth');
    }, 60_000, () => now);
    await check();
    now = 30_000;
    await check();
    expect(calls).toBe(1);
    now = 61_000;
    fail = true;
    await expect(check()).rejects.toThrow('invalid_auth');
    now = 63_000;
    await expect(check()).rejects.toThrow('invalid_auth');
    expect(calls).toBe(2);
    fail = false;
    now = 66_500;
    await check();
    expect(calls).toBe(3);
  });
});

describe('readiness with a required dependency down', () => {
  let t2: TestApp;
  beforeAll(async () => {
    t2 = await startTestApp({ config: { backups: { storage: { localDir: backupDir } }, ops: { requiredChecks: ['database', 'chat'], chatCheckCacheSeconds: 0 } } });
  });
  afterAll(() => t2.stop());

  it('is 503 naming Slack when auth.test fails and Slack is required; 200 again when it recovers', async () => {
    t2.slack.fail('auth.test', 'invalid_auth');
    const down = await fetch(t2.url + '/health/ready');
    const body = (await down.json()) as ProbeBody;
    expect(down.status).toBe(503);
    expect(body.status).toBe('not_ready');
    expect(body.checks.chat).toMatchObject({ status: 'down', required: true });
    expect(body.checks.chat!.error).toContain('invalid_auth');
    expect(body.checks.database!.status).toBe('up');
    // A failure is re-checked (cache 0 s here) and the probe recovers by itself.
    const up = await fetch(t2.url + '/health/ready');
    expect(up.status).toBe(200);
  });
});
