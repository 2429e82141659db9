/**
 * Grafana-managed alerts are silenced through Grafana's Alertmanager-compatible silences API
 * (`/api/alertmanager/grafana/api/v2/silences`, service-account token), faked at the HTTP level;
 * sources without silences (generic webhooks, SNS) keep Firebreak's local mute, and the person
 * and the message are told which of the two was applied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { ownerOf } from '../../src/silences/service.js';
import type { StoredAlert } from '../../src/alerts/model.js';
import { startFakeGrafana, type FakeGrafana } from './fake-grafana.js';

const SA_TOKEN = 'glsa_fakeServiceAccountToken_0123456789';
const GRAFANA_HOOK = 'grafana-hook-token-0001';
const GENERIC_HOOK = 'generic-hook-token-0001';

let t: TestApp;
let grafana: FakeGrafana;

beforeAll(async () => {
  grafana = await startFakeGrafana(SA_TOKEN);
  // Read from the environment by name, never from the config file.
  process.env.FIREBREAK_TEST_GRAFANA_SA_TOKEN = SA_TOKEN;
  t = await startTestApp({
    config: {
      alerts: {
        receivers: { grafana: { bearerToken: GRAFANA_HOOK }, generic: { bearerToken: GENERIC_HOOK } },
        route: { group_by: ['alertname'], group_wait: '0s', group_interval: '0s' },
        alertmanagers: [{ name: 'grafana-cloud', kind: 'grafana', urls: [grafana.url], sources: ['grafana'], bearerTokenEnv: 'FIREBREAK_TEST_GRAFANA_SA_TOKEN' }],
      },
    },
  });
});
afterAll(async () => {
  await t?.stop();
  await grafana?.stop();
  delete process.env.FIREBREAK_TEST_GRAFANA_SA_TOKEN;
});

const post = (path: string, token: string, payload: unknown) =>
  fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(payload) });

/** Everything Firebreak told people privately: response_url answers and ephemeral messages. */
const told = () => [...t.slack.responses.map((r) => JSON.stringify(r.body)), ...t.slack.messagesIn('alerts').filter((m) => m.ephemeralTo).map((m) => m.text)].join('\n');

async function drain(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    t.clock.advance(1000);
    await t.settle();
  }
}

const message = (title: string) => t.slack.messagesIn('alerts').find((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes(title));
const blocks = (title: string) => JSON.stringify(message(title)?.blocks ?? []);
const value = (title: string, actionId: string) => new RegExp(`"action_id":"${actionId.replace('.', '\\.')}","value":"([^"]+)"`).exec(blocks(title))?.[1];

async function silenceFromMessage(title: string, user: string, comment: string): Promise<{ view: string }> {
  await t.click('alerts.silence', value(title, 'alerts.silence')!, { user, channel: t.slack.channel('alerts')!.id });
  await t.settle();
  const view = t.slack.views.at(-1)!.view as { private_metadata: string; blocks: unknown[] };
  const res = await t.submitView('alerts.silence', { duration: '2h', custom_duration: '', matchers: `alertname="${title}"`, comment }, { user, privateMetadata: view.private_metadata, selectBlocks: ['duration'] });
  expect(res.status).toBe(200);
  await drain();
  return { view: JSON.stringify(view.blocks) };
}

describe('Grafana-managed alerts', () => {
  it('Silence creates the silence in Grafana with the service-account token; the message says so and offers Expire', async () => {
    const ok = await post('/webhooks/grafana', GRAFANA_HOOK, {
      receiver: 'firebreak', status: 'firing', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'https://grafana.example/',
      alerts: [{ status: 'firing', labels: { alertname: 'GrafanaCPU', grafana_folder: 'infra' }, annotations: { summary: 'CPU high' }, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint: 'g-cpu-1', generatorURL: 'https://grafana.example/alerting/grafana/x/view' }],
    });
    expect(ok.status).toBe(200);
    await drain();
    expect(message('GrafanaCPU')).toBeDefined();

    t.slack.users.set('U0ALICE', { email: 'alice@example.com', display_name: 'alice' });
    const { view } = await silenceFromMessage('GrafanaCPU', 'U0ALICE', 'scaling the nodes');
    expect(view).toContain('Creates a silence in *Grafana grafana-cloud*');
    expect(grafana.silences).toHaveLength(1);
    const s = grafana.silences[0]!;
    expect(s).toMatchObject({ matchers: [{ name: 'alertname', value: 'GrafanaCPU', isRegex: false, isEqual: true }], comment: 'scaling the nodes', createdBy: 'u0alice' });
    expect(new Date(s.endsAt).getTime() - new Date(s.startsAt).getTime()).toBeGreaterThanOrEqual(2 * 3_600_000 - 60_000);
    // Every call carried the service-account token, and only the Grafana silences API was used.
    expect(grafana.requests.length).toBeGreaterThan(0);
    expect(grafana.requests.every((r) => r.authorization === `Bearer ${SA_TOKEN}` && r.path.startsWith('/api/alertmanager/grafana/api/v2/'))).toBe(true);
    expect(told()).toContain('Silenced at the source, in *Grafana grafana-cloud*');

    expect(blocks('GrafanaCPU')).toContain(`silenced in Grafana grafana-cloud by <@U0ALICE>`);
    expect(blocks('GrafanaCPU')).toContain(s.id);
    expect(value('GrafanaCPU', 'alerts.expire_silence')).toBe(`grafana-cloud/${s.id}`);
    expect(blocks('GrafanaCPU')).not.toContain('"action_id":"alerts.silence"');
  });

  it('Expire expires it in Grafana; the message goes back to Silence…', async () => {
    const s = grafana.silences[0]!;
    const { responseId } = await t.click('alerts.expire_silence', `grafana-cloud/${s.id}`, { user: 'U0ALICE', channel: t.slack.channel('alerts')!.id });
    await drain();
    expect(grafana.requests.filter((r) => r.method === 'DELETE').map((r) => [r.path, r.authorization])).toEqual([[`/api/alertmanager/grafana/api/v2/silence/${s.id}`, `Bearer ${SA_TOKEN}`]]);
    expect(s.expired).toBe(true);
    expect(t.slack.replies(responseId).join()).toMatch(/Expired silence .* in \*Grafana grafana-cloud\*/);
    expect(blocks('GrafanaCPU')).toContain('"action_id":"alerts.silence"');
    expect(blocks('GrafanaCPU')).not.toContain(s.id);
  });

  it('an unknown silence id and Grafana\'s own validation errors get a clear answer and change nothing', async () => {
    const before = grafana.silences.length;
    const unknown = await t.slash('/alerts unsilence 6a5e2b0c-0000-4000-8000-000000000000');
    await t.settle();
    expect(t.slack.replies(unknown.responseId).join()).toMatch(/There is no silence `6a5e2b0c-0000-4000-8000-000000000000` in grafana-cloud/);
    const bad = await t.slash('/alerts silence alertname="X" 0h testing');
    await t.settle();
    expect(t.slack.replies(bad.responseId).join()).toMatch(/zero/);
    expect(grafana.silences.length).toBe(before);
  });

  it('a wrong service-account token: Grafana\'s refusal is shown and nothing is recorded as silenced', async () => {
    const other = await startFakeGrafana('glsa_someOtherToken_000000000000000');
    process.env.FIREBREAK_TEST_GRAFANA_WRONG = SA_TOKEN;
    const a = await startTestApp({
      config: { alerts: { alertmanagers: [{ name: 'grafana', kind: 'grafana', urls: [other.url], sources: ['grafana'], bearerTokenEnv: 'FIREBREAK_TEST_GRAFANA_WRONG' }] } },
    });
    try {
      const { responseId } = await a.slash('/alerts silence alertname="X" 1h testing');
      await a.settle();
      expect(a.slack.replies(responseId).join()).toMatch(/Grafana grafana refused the silence: Unauthorized/);
      expect((await a.db.pool.query('SELECT count(*)::int AS n FROM alert_silences')).rows[0].n).toBe(0);
      expect(other.silences).toHaveLength(0);
    } finally {
      await a.stop();
      await other.stop();
      delete process.env.FIREBREAK_TEST_GRAFANA_WRONG;
    }
  });
});

describe('sources without silences', () => {
  it('a generic webhook group is muted in Firebreak only: the modal, the answer and the message say so, and Grafana hears nothing', async () => {
    const ok = await post('/webhooks/generic', GENERIC_HOOK, { title: 'Queue backlog', severity: 'warning', labels: { queue: 'mail' }, fingerprint: 'q-mail' });
    expect(ok.status).toBe(200);
    await drain();
    const calls = grafana.requests.filter((r) => r.method !== 'GET').length;
    t.slack.users.set('U0BOB', { email: 'bob@example.com', display_name: 'bob' });
    await t.click('alerts.silence', value('Queue backlog', 'alerts.silence')!, { user: 'U0BOB', channel: t.slack.channel('alerts')!.id });
    await t.settle();
    const view = t.slack.views.at(-1)!.view as { private_metadata: string; blocks: unknown[] };
    expect(JSON.stringify(view.blocks)).toContain('*generic* alerts have no silences at the source: Firebreak mutes this group');
    // No matchers field: nothing would be sent anywhere.
    expect(JSON.stringify(view.blocks)).not.toContain('"block_id":"matchers"');
    await t.submitView('alerts.silence', { duration: '2h', custom_duration: '', comment: 'known, draining' }, { user: 'U0BOB', privateMetadata: view.private_metadata, selectBlocks: ['duration'] });
    await drain();
    expect(told()).toContain('in Firebreak only (a local mute, not a silence at the source)');
    expect(blocks('Queue backlog')).toContain('muted in Firebreak only by <@U0BOB>');
    expect(blocks('Queue backlog')).toContain('(generic alerts have no silences at the source)');
    expect(blocks('Queue backlog')).toContain('"action_id":"alerts.unmute"');
    expect(grafana.requests.filter((r) => r.method !== 'GET').length).toBe(calls);
    expect(t.slack.takeViolations()).toEqual([]);
  });

  it('SNS, like generic, has no owner: only Firebreak\'s mute applies', () => {
    const owners = { grafana: 'grafana-cloud' } as const;
    const alert = (source: StoredAlert['source']) => ({ source }) as StoredAlert;
    expect(ownerOf(owners, [alert('sns')])).toEqual({ name: undefined, localOnly: ['sns'] });
    expect(ownerOf(owners, [alert('grafana'), alert('sns')])).toEqual({ name: 'grafana-cloud', localOnly: ['sns'] });
  });
});
