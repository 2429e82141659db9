/**
 * Configuration as a change across two replicas (issue #22, end to end): two apps on one
 * database and one fake Slack, each following the active version with the production
 * component (src/app/configversions.ts configFollowing: the LISTEN/NOTIFY watcher, app.reload
 * and the rollback watch). A proposal approved in Slack switches both within seconds while
 * Slack requests are in flight; a route that makes every alert post fail is rolled back on
 * both, and the ops channel is told why.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { startTestApp, type TestApp } from '../support/app.js';
import { AM_TOKEN, amBody, bearer, post } from '../alerts/support.js';
import { configFollowing, configVersionsService } from '../../src/app/configversions.js';
import { loadConfigText } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../../src/clock.js';
import type { ConfigWatcher } from '../../src/configversions/watcher.js';

interface ViewBlock { elements?: { action_id?: string; value?: string }[] }

/** The file both replicas started from: version 1 (the receiver's token is a secret: env only). */
const v1 = {
  alerts: { route: { channel: 'alerts', group_by: ['alertname'], group_wait: '0s' } },
  configChanges: { checkIntervalSeconds: 1, rollback: { windowSeconds: 120, maxErrors: 2, checkEverySeconds: 0.2 } },
};
const env = { ALERTMANAGER_WEBHOOK_TOKEN: AM_TOKEN };
const withToken = { ...v1, alerts: { ...v1.alerts, receivers: { alertmanager: { bearerToken: AM_TOKEN } } } };
/** Version 2: alerts go to a channel id that does not exist, so every group post fails. */
const v2 = { ...v1, alerts: { route: { ...v1.alerts.route, channel: 'C0NOWHERE1' } } };

let a: TestApp;
let b: TestApp;
const clock = new FakeClock('2026-03-02T10:00:00Z');
const followers: ConfigWatcher[] = [];

/** What main.ts does for a replica: the version's text, with this process's own env-only settings. */
function follow(t: TestApp): ConfigWatcher {
  const { databaseUrl, port, logLevel, dataDir, slack } = t.config;
  const following = configFollowing({
    pool: t.db.pool, clock: t.clock, log: createLogger({ level: 'silent' }), chat: t.app.ctx.chat, config: t.config,
    fileText: () => toYaml(v1),
    configFor: (text, label) => loadConfigText(text, env, { label, overrides: { databaseUrl, port, logLevel, dataDir, slack } }),
  });
  const w = following.component(t.app);
  followers.push(w);
  return w;
}

async function approveNewest(t: TestApp, user: string): Promise<void> {
  const msg = [...t.slack.messagesIn('approvals')].reverse().find((m) => JSON.stringify(m.blocks ?? []).includes('"action_id":"change_approve"'));
  const button = (msg!.blocks as ViewBlock[]).flatMap((x) => x.elements ?? []).find((e) => e.action_id === 'change_approve')!;
  await t.click('change_approve', button.value!, { user, channel: t.slack.channel('approvals')!.id });
}

const versionOf = (t: TestApp) => t.app.configVersion?.id;

beforeAll(async () => {
  // One time for both replicas, as in production.
  a = await startTestApp({ config: withToken, clock });
  b = await startTestApp({ config: withToken, clock, shared: { db: a.db, slack: a.slack } });
  for (const t of [a, b]) await follow(t).start();
}, 60_000);

afterAll(async () => {
  for (const w of followers) await w.stop();
  await b?.stop();
  await a?.stop();
});

describe('two replicas following the configuration', () => {
  it('start on one recorded version, the file both were given', async () => {
    const { rows } = await a.db.pool.query(`SELECT id, source FROM config_versions WHERE status = 'active'`);
    expect(rows).toEqual([{ id: expect.anything(), source: 'start' }]);
    expect(versionOf(a)).toBe(Number(rows[0].id));
    expect(versionOf(b)).toBe(Number(rows[0].id));
    const ready = (await (await fetch(`${b.url}/health/ready`)).json()) as { config: unknown };
    expect(ready.config).toEqual({ version: Number(rows[0].id), hash: b.app.configVersion!.hash });
  });

  it('switch together once a proposal is approved, and no Slack request in flight is dropped', async () => {
    const before = versionOf(a)!;
    const versions = configVersionsService(a.app.ctx, a.app.services.changes);
    const out = await versions.propose(toYaml(v2), { author: 'U0ALICE', source: 'slack' }, { userId: 'U0ALICE' });
    expect(out.status).toBe('gated');
    // The request shows what changes.
    expect(a.slack.messagesIn('approvals').at(-1)!.text).toContain('alerts.route.channel: "alerts" → "C0NOWHERE1"');

    // Slack is slow while the switch happens: commands are mid-flight on both replicas.
    a.slack.slow('chat.postMessage', 300);
    const inFlight = [a, b, a, b].map((t, i) => t.slash(`/incident declare P3 In flight ${i}`));
    await approveNewest(a, 'U0BOB');
    const answers = await Promise.all(inFlight);
    expect(answers.map((x) => x.res.status)).toEqual([200, 200, 200, 200]);
    a.slack.slow('chat.postMessage', 0);

    await vi.waitFor(() => {
      expect(versionOf(a)).not.toBe(before);
      expect(versionOf(b)).toBe(versionOf(a));
    }, { timeout: 15_000, interval: 50 });
    expect(a.app.ctx.config.alerts.route.channel).toBe('C0NOWHERE1');
    expect(b.app.ctx.config.alerts.route.channel).toBe('C0NOWHERE1');
    for (const t of [a, b]) await t.settle();
    const declared = await a.db.pool.query(`SELECT title FROM incidents WHERE title LIKE 'In flight %' ORDER BY title`);
    expect(declared.rows.map((r) => r.title)).toEqual(['In flight 0', 'In flight 1', 'In flight 2', 'In flight 3']);
  }, 60_000);

  it('roll back on both when the new route makes every alert post fail, and tell the ops channel why', async () => {
    const bad = versionOf(a)!;
    for (const [i, t] of [a, b, a].entries()) {
      const res = await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: `Bad route ${i}`, instance: 'db-1' } }]), bearer(AM_TOKEN));
      expect(res.status).toBe(200);
    }
    // A channel gets one post per pace slot (a second), so time moves on while the posts fail;
    // the rollback window (120 s) stays open for the three failures it needs.
    await vi.waitFor(() => {
      clock.advance(500);
      expect(versionOf(a)).not.toBe(bad);
      expect(versionOf(b)).toBe(versionOf(a));
    }, { timeout: 20_000, interval: 100 });
    expect(a.app.ctx.config.alerts.route.channel).toBe('alerts');
    expect(b.app.ctx.config.alerts.route.channel).toBe('alerts');
    const failed = (await a.db.pool.query(`SELECT status, failure_reason FROM config_versions WHERE id = $1`, [bad])).rows[0];
    expect(failed.status).toBe('failed');
    expect(failed.failure_reason).toMatch(/failed Slack calls \(channel_not_found\)/);
    await vi.waitFor(() => expect(a.slack.messagesIn('ops').map((m) => m.text).join('\n')).toMatch(/channel_not_found/), { timeout: 10_000 });
    const audit = await a.db.pool.query(`SELECT payload FROM events WHERE type = 'config.rolled_back'`);
    expect(audit.rows).toEqual([{ payload: expect.objectContaining({ from: bad, automatic: true }) }]);
  }, 60_000);
});
