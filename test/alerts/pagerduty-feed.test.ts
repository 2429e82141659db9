/**
 * PagerDuty incidents Firebreak did not raise feed the alert pipeline (source `pagerduty`):
 * signed v3 webhooks in, one grouped message in the routed channel, re-deliveries inert,
 * resolves shown; events about Firebreak's own pages stay on the incident timeline.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { alertFromWebhookEvent, parseWebhookEvent } from '../../src/paging/webhook-event.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { step, stepAndDrain, text } from './support.js';
import { accepted, eventTypes, fakeEvents, incidentByTitle, isolateNetwork, pageRows, postWebhook, releaseAfterTests, signature, webhookBody } from '../paging/support.js';

const SECRET = 'whsec-feed-0000000000000000';
const START = new Date('2026-03-09T10:00:00Z');

let t: TestApp;

beforeAll(async () => {
  isolateNetwork();
  t = await startTestApp({
    clock: new FakeClock(START),
    seedChannels: ['incidents', 'ops', 'alerts', 'pd-alerts', 'db-pages'],
    config: {
      paging: { routingKey: 'R0FEED000000000000000000000000001', webhookSecrets: [SECRET] },
      alerts: {
        route: {
          channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h',
          routes: [
            { matchers: ['source="pagerduty"', 'service="Payments DB"'], channel: 'db-pages', auto_declare: { severity: 'P2' } },
            { matchers: ['source="pagerduty"'], channel: 'pd-alerts', mentions: ['<!subteam^S0PD>'] },
          ],
        },
      },
    },
  });
});
releaseAfterTests(() => t);

const FOREIGN = 'PFOREIGN1';
const foreignData = (extra: Record<string, unknown> = {}) => ({
  id: FOREIGN, type: 'incident', self: `https://api.pagerduty.com/incidents/${FOREIGN}`, html_url: `https://acme.pagerduty.com/incidents/${FOREIGN}`,
  number: 77, status: 'triggered', incident_key: 'datadog-monitor-4411', created_at: '2026-03-09T09:59:30Z', title: 'Checkout latency p99 > 2s',
  service: { id: 'PSVC123', type: 'service_reference', summary: 'Checkout API', html_url: 'https://acme.pagerduty.com/services/PSVC123' },
  assignees: [{ id: 'PUSER9', summary: 'Dana Oncall', type: 'user_reference' }],
  escalation_policy: { id: 'PEP1', type: 'escalation_policy_reference', summary: 'Web on-call' },
  priority: { id: 'PPRI1', type: 'priority', summary: 'P2' }, urgency: 'high',
  body: { type: 'incident_body', details: JSON.stringify({ runbook_url: 'https://runbooks.example/checkout/latency', from: 'datadog' }) },
  ...extra,
});

async function deliver(body: string, webhookId: string): Promise<Response> {
  const res = await postWebhook(t, body, { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': webhookId });
  await t.settle();
  return res;
}

const topLevel = (channel: string) => t.slack.messagesIn(channel).filter((m) => !m.thread_ts && !m.ephemeralTo);
const alertRow = async (fingerprint: string) =>
  (await t.db.pool.query(`SELECT * FROM alerts WHERE source = 'pagerduty' AND fingerprint = $1`, [fingerprint])).rows[0] as Record<string, unknown> | undefined;

describe('the mapping from a v3 incident event to an alert', () => {
  it('takes the incident id as fingerprint, service/urgency/priority/policy as labels and the body runbook_url', () => {
    const e = parseWebhookEvent(JSON.parse(webhookBody('incident.triggered', foreignData(), { at: new Date('2026-03-09T09:59:31Z') })))!;
    expect(alertFromWebhookEvent(e, START)).toEqual({
      source: 'pagerduty', fingerprint: FOREIGN, status: 'firing',
      labels: {
        alertname: 'Checkout latency p99 > 2s', source: 'pagerduty', service: 'Checkout API', service_id: 'PSVC123',
        urgency: 'high', priority: 'P2', escalation_policy: 'Web on-call',
      },
      annotations: { summary: 'Checkout latency p99 > 2s', html_url: `https://acme.pagerduty.com/incidents/${FOREIGN}`, runbook_url: 'https://runbooks.example/checkout/latency' },
      startsAt: new Date('2026-03-09T09:59:30Z'), endsAt: null, generatorUrl: `https://acme.pagerduty.com/incidents/${FOREIGN}`,
    });
    const resolved = parseWebhookEvent(JSON.parse(webhookBody('incident.resolved', foreignData({ status: 'resolved', priority: null, body: undefined }), { at: new Date('2026-03-09T10:20:00Z') })))!;
    const r = alertFromWebhookEvent(resolved, START)!;
    expect(r).toMatchObject({ status: 'resolved', endsAt: new Date('2026-03-09T10:20:00Z'), startsAt: new Date('2026-03-09T09:59:30Z') });
    expect(r.labels.priority).toBeUndefined();
    expect(r.annotations.runbook_url).toBeUndefined();
  });

  it('feeds nothing for events that do not change the state, or are not about an incident', () => {
    for (const type of ['incident.acknowledged', 'incident.escalated', 'incident.annotated', 'incident.priority_updated']) {
      expect(alertFromWebhookEvent(parseWebhookEvent(JSON.parse(webhookBody(type, foreignData())))!, START)).toBeUndefined();
    }
    const note = { type: 'incident_note', id: 'PNOTE', content: 'x', incident: { id: FOREIGN, type: 'incident_reference' } };
    expect(alertFromWebhookEvent(parseWebhookEvent(JSON.parse(webhookBody('incident.triggered', note)))!, START)).toBeUndefined();
    // Not a web link: no runbook button pointing at a javascript: URL.
    const odd = parseWebhookEvent(JSON.parse(webhookBody('incident.triggered', foreignData({ body: { details: { runbook_url: 'javascript:alert(1)' } } }))))!;
    expect(alertFromWebhookEvent(odd, START)!.annotations.runbook_url).toBeUndefined();
  });
});

describe('a PagerDuty incident raised by other monitoring', () => {
  it('is stored as an alert before the 2xx and posted once, grouped, in the routed channel after group_wait', async () => {
    const body = webhookBody('incident.triggered', foreignData(), { id: 'EVT-FEED-1', at: new Date('2026-03-09T09:59:31Z') });
    const ok = await postWebhook(t, body, { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': 'wh-feed-trigger' });
    expect(ok.status).toBe(202);
    // Stored by the time the 2xx arrived.
    const row = await alertRow(FOREIGN);
    expect(row).toMatchObject({ status: 'firing', received_count: 1, labels: { service: 'Checkout API', urgency: 'high', source: 'pagerduty' } });
    await t.settle();
    expect(topLevel('pd-alerts')).toHaveLength(0); // group_wait not over
    await step(t, 30_000);
    const msgs = topLevel('pd-alerts');
    expect(msgs).toHaveLength(1);
    const shown = text(msgs[0]);
    expect(shown).toContain('FIRING: 1');
    expect(shown).toContain('Checkout latency p99 &gt; 2s');
    expect(shown).toContain(`<https://acme.pagerduty.com/incidents/${FOREIGN}|source>`);
    expect(shown).toContain('https://runbooks.example/checkout/latency');
    expect(shown).toContain('<!subteam^S0PD>');
    expect(topLevel('alerts')).toHaveLength(0);
  });

  it('a re-delivery of the same webhook does nothing new; a second subscription sending the same event only counts', async () => {
    const posts = t.slack.callsTo('chat.postMessage').length;
    const updates = t.slack.callsTo('chat.update').length;
    const body = webhookBody('incident.triggered', foreignData(), { id: 'EVT-FEED-1', at: new Date('2026-03-09T09:59:31Z') });
    const again = await deliver(body, 'wh-feed-trigger');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'duplicate' });
    expect(await alertRow(FOREIGN)).toMatchObject({ received_count: 1 });
    // Another webhook subscription delivers the same event under its own id: same alert, no change.
    expect((await deliver(body, 'wh-feed-trigger-sub2')).status).toBe(202);
    expect(await alertRow(FOREIGN)).toMatchObject({ received_count: 2, status: 'firing' });
    await stepAndDrain(t, 5 * MINUTE);
    expect(t.slack.callsTo('chat.postMessage').length).toBe(posts);
    expect(t.slack.callsTo('chat.update').length).toBe(updates);
    expect(topLevel('pd-alerts')).toHaveLength(1);
  });

  it('an acknowledgement changes nothing in the pipeline; the resolve marks the alert resolved in place', async () => {
    expect((await deliver(webhookBody('incident.acknowledged', foreignData({ status: 'acknowledged' }), { agent: 'Dana Oncall' }), 'wh-feed-ack')).status).toBe(202);
    expect(await alertRow(FOREIGN)).toMatchObject({ status: 'firing', received_count: 2 });

    const resolvedAt = new Date(t.clock.now().getTime() - 10_000);
    const res = await deliver(webhookBody('incident.resolved', foreignData({ status: 'resolved' }), { agent: 'Dana Oncall', at: resolvedAt }), 'wh-feed-resolve');
    expect(res.status).toBe(202);
    const row = (await alertRow(FOREIGN))!;
    expect(row.status).toBe('resolved');
    expect((row.ends_at as Date).toISOString()).toBe(resolvedAt.toISOString());
    await stepAndDrain(t, 5 * MINUTE);
    const msgs = topLevel('pd-alerts');
    expect(msgs).toHaveLength(1);
    const shown = text(msgs[0]);
    expect(shown).toContain('RESOLVED: Checkout latency p99 &gt; 2s');
    expect(shown).toContain('✅');
    expect(shown).not.toContain('FIRING: 1');
  });

  it('a late re-delivery of the old trigger under a new id cannot bring the resolved alert back', async () => {
    const body = webhookBody('incident.triggered', foreignData(), { id: 'EVT-FEED-1', at: new Date('2026-03-09T09:59:31Z') });
    expect((await deliver(body, 'wh-feed-trigger-late')).status).toBe(202);
    expect(await alertRow(FOREIGN)).toMatchObject({ status: 'resolved' });
  });

  it('a reopened incident fires again', async () => {
    const res = await deliver(webhookBody('incident.reopened', foreignData({ status: 'triggered' }), { agent: 'Dana Oncall', at: t.clock.now() }), 'wh-feed-reopen');
    expect(res.status).toBe(202);
    expect(await alertRow(FOREIGN)).toMatchObject({ status: 'firing' });
    await stepAndDrain(t, 5 * MINUTE);
    expect(text(topLevel('pd-alerts').at(-1))).toContain('FIRING: 1');
  });

  it('auto-declares for a route that asks for it, once per group, and the page it sends comes back as timeline, not as an alert', async () => {
    const pd = fakeEvents([accepted(), accepted()]);
    const DB = 'PDBFOREIGN';
    const dbData = { ...foreignData(), id: DB, html_url: `https://acme.pagerduty.com/incidents/${DB}`, title: 'Payments DB down', incident_key: 'zabbix-17', service: { id: 'PSVCDB', summary: 'Payments DB' } };
    expect((await deliver(webhookBody('incident.triggered', dbData), 'wh-feed-db')).status).toBe(202);
    await stepAndDrain(t, 30_000);
    expect(topLevel('db-pages')).toHaveLength(1);
    const inc = await incidentByTitle(t, 'Payments DB down');
    expect(inc).toMatchObject({ severity: 'P2', service: 'Payments DB' });
    expect(await eventTypes(t, inc.id)).toContain('alert.firing');

    // P2 pages: PagerDuty's webhooks about that page are Firebreak's own incident, not a new alert.
    const pages = await pageRows(t, inc.id);
    expect(pages).toMatchObject([{ status: 'triggered' }]);
    expect(pd.bodies[0]).toMatchObject({ event_action: 'trigger', dedup_key: pages[0]!.dedup_key });
    const own = { ...dbData, id: 'PFIREBREAK', html_url: 'https://acme.pagerduty.com/incidents/PFIREBREAK', incident_key: pages[0]!.dedup_key };
    expect((await deliver(webhookBody('incident.triggered', own), 'wh-feed-own')).status).toBe(202);
    expect(await alertRow('PFIREBREAK')).toBeUndefined();
    expect(await pageRows(t, inc.id)).toMatchObject([{ pd_incident_id: 'PFIREBREAK' }]);
    await stepAndDrain(t, 5 * MINUTE);
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM incidents WHERE title = 'Payments DB down'`)).rows[0].n).toBe(1);
  });
});

describe('when the alert cannot be stored', () => {
  it('answers 503 without marking the delivery seen, so PagerDuty\'s retry stores it', async () => {
    const ID = 'PSTORAGE1';
    const body = webhookBody('incident.triggered', { ...foreignData(), id: ID, title: 'Disk full on batch-3' });
    // A real database refusal (not a mock): the alerts table rejects PagerDuty rows for a moment.
    await t.db.pool.query(`ALTER TABLE alerts ADD CONSTRAINT feed_test_refuse CHECK (source <> 'pagerduty' OR fingerprint <> '${ID}') NOT VALID`);
    try {
      const refused = await deliver(body, 'wh-storage-1');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
    } finally {
      await t.db.pool.query('ALTER TABLE alerts DROP CONSTRAINT feed_test_refuse');
    }
    expect(await alertRow(ID)).toBeUndefined();
    const retried = await deliver(body, 'wh-storage-1');
    expect(retried.status).toBe(202);
    expect(await alertRow(ID)).toMatchObject({ status: 'firing', labels: { alertname: 'Disk full on batch-3' } });
  });
});

describe('a PagerDuty incident Firebreak triggered', () => {
  it('goes to the incident timeline and never into the alert pipeline', async () => {
    fakeEvents([accepted()]);
    await t.slash('/incident declare P1 Queue backlog');
    await t.settle();
    const inc = await incidentByTitle(t, 'Queue backlog');
    const [page] = await pageRows(t, inc.id);
    expect(page).toMatchObject({ status: 'triggered' });
    const OWN = 'POWN0001';
    const own = (extra: Record<string, unknown> = {}) => ({ ...foreignData(), id: OWN, html_url: `https://acme.pagerduty.com/incidents/${OWN}`, incident_key: page!.dedup_key, title: 'P1: Queue backlog', ...extra });
    const alertsBefore = (await t.db.pool.query(`SELECT count(*)::int AS n FROM alerts`)).rows[0].n;

    expect((await deliver(webhookBody('incident.triggered', own()), 'wh-own-trigger')).status).toBe(202);
    expect(await pageRows(t, inc.id)).toMatchObject([{ pd_incident_id: OWN }]);
    expect((await deliver(webhookBody('incident.escalated', own({ assignees: [{ summary: 'Frank Manager' }] }), { agent: 'PagerDuty' }), 'wh-own-esc')).status).toBe(202);
    // Matched by the remembered PagerDuty id even without the dedup key.
    expect((await deliver(webhookBody('incident.resolved', own({ status: 'resolved', incident_key: null }), { agent: 'Dana Oncall' }), 'wh-own-resolve')).status).toBe(202);

    expect(await eventTypes(t, inc.id)).toEqual(expect.arrayContaining(['pagerduty.escalated', 'pagerduty.resolved']));
    expect(await alertRow(OWN)).toBeUndefined();
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM alerts`)).rows[0].n).toBe(alertsBefore);
    await stepAndDrain(t, 30_000);
    expect(topLevel('pd-alerts').map((m) => m.text).join('\n')).not.toContain('Queue backlog');
  });
});
