/**
 * Configuration hot reload (issue #22, part A): FirebreakApp.reload builds a new generation on
 * the same pool, HTTP server, job queue and chat surface, swaps it in, and retires the old one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { envOnlyChanges } from '../../src/config/env-only.js';
import { SCHEDULE_QUEUE, type LeaseScheduler } from '../../src/jobs/scheduler.js';

let t: TestApp;
const clock = new FakeClock('2026-03-02T10:01:00Z');
let versionId = 1;
/** A stored version's ref for a test config: ids go up, the hash names the content. */
const ref = (hash: string) => ({ id: ++versionId, hash });
/** The running config with `patch` applied to one section. */
const withSection = <K extends keyof Config>(base: Config, key: K, patch: Partial<Config[K]>): Config => ({
  ...base, [key]: { ...(base[key] as object), ...patch },
});

beforeAll(async () => {
  t = await startTestApp({
    clock,
    configVersion: { id: 1, hash: 'h1' },
    config: {
      // Every replica's housekeeping (kept across the reload), and the owner reminders that the
      // new configuration replaces with the digest.
      // Readiness asks Slack on every probe (no cache), so a slow auth.test makes a slow request.
      ops: { housekeeping: { cron: '*/5 * * * *' }, chatCheckCacheSeconds: 0 },
      followups: { reminders: { cron: '*/5 * * * *', digestCron: '' } },
    },
  });
});
afterAll(async () => {
  await t?.stop();
});

const readyBody = async () => (await (await fetch(`${t.url}/health/ready`)).json()) as Record<string, unknown>;
const metricsText = async () => (await fetch(`${t.url}/metrics`)).text();
const slotJobs = async (task: string) =>
  (await t.db.pool.query(`SELECT payload->>'slot' AS slot FROM jobs WHERE queue = $1 AND payload->>'task' = $2 ORDER BY 1`, [SCHEDULE_QUEUE, task])).rows.map((r) => r.slot as string);

describe('FirebreakApp.reload', () => {
  it('starts reporting the version it was given at /health/ready and /metrics', async () => {
    expect(t.app.configVersion).toEqual({ id: 1, hash: 'h1' });
    expect((await readyBody()).config).toEqual({ version: 1, hash: 'h1' });
    expect(await metricsText()).toMatch(/^firebreak_config_version_info\{version="1",hash="h1"[^}]*\} 1$/m);
  });

  it('changes behaviour without a restart: a declare after the switch is announced in the new channel', async () => {
    const before = t.app.ctx;
    await t.slash('/incident declare P3 Before the switch');
    await t.settle();
    expect(t.slack.messagesIn('incidents').some((m) => m.text.includes('Before the switch'))).toBe(true);

    const to = ref('h-ops-channel');
    const outcome = await t.app.reload(withSection(t.app.ctx.config, 'incidents', { channel: 'ops' }), to);
    expect(outcome).toEqual({ status: 'switched', from: { id: 1, hash: 'h1' }, to });
    expect(t.app.ctx).not.toBe(before);
    expect(t.app.ctx.config.incidents.channel).toBe('ops');

    await t.slash('/incident declare P3 After the switch');
    await t.settle();
    expect(t.slack.messagesIn('ops').some((m) => m.text.includes('After the switch'))).toBe(true);
    expect(t.slack.messagesIn('incidents').some((m) => m.text.includes('After the switch'))).toBe(false);
    // The version is reported, one metric series: the running one.
    expect((await readyBody()).config).toEqual({ version: to.id, hash: to.hash });
    const metrics = await metricsText();
    expect(metrics).toMatch(new RegExp(`^firebreak_config_version_info\\{version="${to.id}",hash="${to.hash}"[^}]*\\} 1$`, 'm'));
    expect(metrics.match(/^firebreak_config_version_info\{/gm)).toHaveLength(1);
  });

  it('reloading the running hash is unchanged and rebuilds nothing', async () => {
    const ctx = t.app.ctx;
    const running = t.app.configVersion!;
    expect(await t.app.reload(withSection(t.app.ctx.config, 'incidents', { channel: 'incidents' }), { id: running.id + 100, hash: running.hash })).toEqual({ status: 'unchanged' });
    expect(t.app.ctx).toBe(ctx);
    expect(t.app.configVersion).toEqual(running);
  });

  it('lets a slow request that started before the switch finish, with 200, on the old generation', async () => {
    const old = t.app.ctx;
    const oldModules = t.app.modules;
    const events: string[] = [];
    // The old generation's readiness probe asks Slack (auth.test), slowly.
    const ready = oldModules.find((m) => m.name === 'ops')!.routes!.find((r) => r.path === '/health/ready')!;
    const handleReady = ready.handle.bind(ready);
    ready.handle = async (req) => {
      const r = await handleReady(req);
      events.push('old handler done');
      return r;
    };
    t.slack.slow('auth.test', 1500);
    const callsBefore = t.slack.callsTo('auth.test').length;
    const probe = fetch(`${t.url}/health/ready`).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    await expect.poll(() => t.slack.callsTo('auth.test').length, { timeout: 10_000 }).toBeGreaterThan(callsBefore);
    // Its modules stop only once the request is done.
    const alerts = oldModules.find((m) => m.name === 'alerts')!;
    const stopAlerts = alerts.stop!.bind(alerts);
    alerts.stop = async () => {
      events.push('old stopped');
      await stopAlerts();
    };
    const reloading = t.app.reload(withSection(old.config, 'incidents', { channelNameTemplate: 'incident-{id}-{slug}' }), ref('h-slow'));
    await expect.poll(() => t.app.ctx !== old, { timeout: 10_000 }).toBe(true);
    const res = await probe;
    expect((await reloading).status).toBe('switched');
    t.slack.slow('auth.test', 0);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    // The old generation retires after the switch returns: its modules stop once its request is done.
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(2);
    expect(events).toEqual(['old handler done', 'old stopped']);
  });

  it('refuses a change to an env-only setting, naming it, and switches nothing', async () => {
    const ctx = t.app.ctx;
    const running = t.app.configVersion;
    const next: Config = { ...ctx.config, port: 4321, slack: { ...ctx.config.slack, botToken: 'xoxb-another-token-000' }, incidents: { ...ctx.config.incidents, channel: 'alerts' } };
    expect(envOnlyChanges(ctx.config, next)).toEqual(['port', 'slack.botToken']);
    const outcome = await t.app.reload(next, ref('h-env'));
    expect(outcome.status).toBe('refused');
    if (outcome.status !== 'refused') return;
    expect(outcome.envOnly).toEqual(['port', 'slack.botToken']);
    expect(outcome.message).toContain('port, slack.botToken');
    expect(outcome.message).toMatch(/restart/);
    expect(t.app.ctx).toBe(ctx);
    expect(t.app.configVersion).toEqual(running);
    expect(t.app.ctx.config.incidents.channel).toBe('ops');
  });

  it('keeps the old generation serving when the new one fails to start', async () => {
    const ctx = t.app.ctx;
    const running = t.app.configVersion;
    // Valid to the schema, but the approvals area cannot schedule it when it starts.
    const outcome = await t.app.reload({ ...withSection(ctx.config, 'audit', { anchorCron: 'every hour' }), incidents: { ...ctx.config.incidents, channel: 'alerts' } }, ref('h-bad'));
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') expect(outcome.error).toContain('every hour');
    expect(t.app.ctx).toBe(ctx);
    expect(t.app.configVersion).toEqual(running);
    expect((await readyBody()).config).toEqual({ version: running!.id, hash: running!.hash });
    // Its job handlers are still the ones installed: a declare goes through the old config.
    await t.slash('/incident declare P3 After the failed switch');
    await t.settle();
    expect(t.slack.messagesIn('ops').some((m) => m.text.includes('After the failed switch'))).toBe(true);
    expect(t.slack.messagesIn('alerts').some((m) => m.text.includes('After the failed switch'))).toBe(false);
  });

  it('serialises concurrent reloads: both switch, in order', async () => {
    const base = t.app.ctx.config;
    const a = ref('h-a');
    const b = ref('h-b');
    const [ra, rb] = await Promise.all([
      t.app.reload(withSection(base, 'incidents', { channel: 'incidents' }), a),
      t.app.reload(withSection(base, 'incidents', { channel: 'ops' }), b),
    ]);
    expect(ra).toMatchObject({ status: 'switched', to: a });
    expect(rb).toEqual({ status: 'switched', from: a, to: b });
    expect(t.app.ctx.config.incidents.channel).toBe('ops');
  });

  it('moves the schedules: the new entries run, the removed ones no longer do, and no slot runs twice or is lost', async () => {
    const s1 = t.app.ctx.scheduler as LeaseScheduler;
    await s1.start();
    expect(s1.isLeader()).toBe(true);
    const firstSlot = '2026-03-02T10:05:00.000Z';
    clock.set('2026-03-02T10:05:30Z');
    await s1.renewNow();
    expect(await slotJobs('followups:reminders')).toEqual([firstSlot]);
    expect(await slotJobs('ops:housekeeping')).toEqual([firstSlot]);

    // 10:10 passes with nobody renewing; then the switch: reminders off, the digest on.
    clock.set('2026-03-02T10:10:20Z');
    const next = withSection(t.app.ctx.config, 'followups', { reminders: { ...t.app.ctx.config.followups.reminders, cron: '', digestCron: '*/5 * * * *' } });
    expect((await t.app.reload(next, ref('h-schedules'))).status).toBe('switched');
    const s2 = t.app.ctx.scheduler as LeaseScheduler;
    expect(s2).not.toBe(s1);
    expect(s1.started).toBe(false);
    expect(s2.started).toBe(true);
    expect(s2.isLeader()).toBe(true);
    // The new scheduler's first renewal caught up the 10:10 slot of the task both configurations have: once.
    expect(await slotJobs('ops:housekeeping')).toEqual([firstSlot, '2026-03-02T10:10:00.000Z']);

    clock.set('2026-03-02T10:15:30Z');
    await s2.renewNow();
    await s2.renewNow();
    expect(await slotJobs('ops:housekeeping')).toEqual([firstSlot, '2026-03-02T10:10:00.000Z', '2026-03-02T10:15:00.000Z']);
    expect(await slotJobs('followups:reminders')).toEqual([firstSlot]);
    expect((await slotJobs('followups:digest')).at(-1)).toBe('2026-03-02T10:15:00.000Z');
    // The slots run on the new generation's handlers.
    await t.settle();
    const { rows } = await t.db.pool.query(`SELECT payload->>'task' AS task, status FROM jobs WHERE queue = $1 AND payload->>'slot' = '2026-03-02T10:15:00.000Z' AND payload->>'task' LIKE ANY ('{followups:%,ops:%}')`, [SCHEDULE_QUEUE]);
    expect(rows.map((r) => `${r.task}:${r.status}`).sort()).toEqual(['followups:digest:done', 'ops:housekeeping:done']);
    await s2.stop();
  });
});

describe('envOnlyChanges', () => {
  const base = configSchema.parse({ databaseUrl: 'postgres://a@db/firebreak', slack: { botToken: 'xoxb-1', signingSecret: 'secret-123456' } });
  it('is empty when only generation settings differ', () => {
    const next = configSchema.parse({ databaseUrl: 'postgres://a@db/firebreak', slack: { botToken: 'xoxb-1', signingSecret: 'secret-123456' }, incidents: { channel: 'sev' }, ops: { housekeeping: { cron: '1 * * * *' } } });
    expect(envOnlyChanges(base, next)).toEqual([]);
  });
  it('names every restart-only setting that differs, key by key', () => {
    const next = configSchema.parse({
      databaseUrl: 'postgres://a@other/firebreak', logLevel: 'debug', dataDir: '/var/lib/fb',
      slack: { botToken: 'xoxb-1', appToken: 'xapp-1' }, console: { withSlack: true }, ops: { shutdownBudgetSeconds: 60 },
    });
    expect(envOnlyChanges(base, next)).toEqual(['databaseUrl', 'dataDir', 'logLevel', 'slack.appToken', 'slack.signingSecret', 'console.withSlack', 'ops.shutdownBudgetSeconds']);
  });
});
