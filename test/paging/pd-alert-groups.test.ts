/**
 * PagerDuty buttons on alert groups that came from PagerDuty (other monitoring's incidents fed
 * in by the webhook): Acknowledge / Resolve / Escalate / Reassign send the same REST v2 requests
 * as the controls on a page, with the From header of the person's PagerDuty user; the message
 * shows PagerDuty's state (acknowledged by whom, whether from Slack or in PagerDuty) and its
 * buttons follow; PagerDuty's webhook echo of a change made here adds nothing. PagerDuty is
 * faked with nock on its real hostnames.
 */
import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { stepAndDrain, text } from '../alerts/support.js';
import { isolateNetwork, PD_ALICE, PD_BOB, pdRest, pdUsers, postWebhook, releaseAfterTests, signature, webhookBody } from './support.js';

const SECRET = 'whsec-groups-00000000000000';
const TOKEN = 'pd-rest-token-groups-000001';
const START = new Date('2026-03-10T09:00:00Z');

let t: TestApp;

beforeAll(async () => {
  isolateNetwork();
  t = await startTestApp({
    clock: new FakeClock(START),
    seedChannels: ['incidents', 'ops', 'alerts', 'pd-alerts'],
    config: {
      paging: {
        apiToken: TOKEN, webhookSecrets: [SECRET],
        delivery: { attempts: 3, backoffSeconds: 0, maxBackoffSeconds: 0, maxRetryAfterSeconds: 0 },
      },
      alerts: {
        route: {
          channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h',
          routes: [{ matchers: ['source="pagerduty"'], channel: 'pd-alerts', escalate_after: '10m', escalate_to: { mention: '<!subteam^S0LEADS>' } }],
        },
      },
    },
  });
  t.slack.users.set('U0ALICE', { email: 'alice@example.com' });
  t.slack.users.set('U0BOB', { email: 'bob@example.com' });
});
releaseAfterTests(() => t);

const pd = () => pdRest(TOKEN);
const users = (email: string, list: { id: string; email: string; name: string }[]) => pdUsers(TOKEN, email, list);
const ALICE = PD_ALICE;
const BOB = PD_BOB;

const incident = (id: string, title: string, extra: Record<string, unknown> = {}) => ({
  id, type: 'incident', html_url: `https://acme.pagerduty.com/incidents/${id}`, status: 'triggered', incident_key: `dd-${id}`,
  created_at: '2026-03-10T08:59:00Z', title, service: { id: 'PSVC1', summary: 'Checkout API' }, urgency: 'high', ...extra,
});

async function deliver(type: string, data: Record<string, unknown>, opts: { id: string; agent?: string }) {
  const body = webhookBody(type, data, { id: opts.id, at: t.clock.now(), ...(opts.agent ? { agent: opts.agent } : {}) });
  const res = await postWebhook(t, body, { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': `wh-${opts.id}` });
  expect(res.status).toBe(202);
  await t.settle();
}

const groupMessage = (title: string) => t.slack.messagesIn('pd-alerts').find((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes(title));
const actionIds = (title: string) => [...JSON.stringify(groupMessage(title)?.blocks ?? []).matchAll(/"action_id":"([^"]+)"/g)].map((m) => m[1]);
const groupIdOf = async (fingerprint: string) =>
  Number((await t.db.pool.query(`SELECT m.group_id FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id WHERE a.source = 'pagerduty' AND a.fingerprint = $1`, [fingerprint])).rows[0].group_id);
const updates = () => t.slack.callsTo('chat.update').length;

const P1 = 'PGRP0001';
let group1 = 0;

describe('PagerDuty buttons on an alert group from PagerDuty', () => {
  it('the group message carries Acknowledge / Resolve / Escalate / Reassign acting in PagerDuty, not Firebreak\'s local Acknowledge', async () => {
    await deliver('incident.triggered', incident(P1, 'Checkout latency high'), { id: 'EVT-G1-TRIG' });
    await stepAndDrain(t, 30_000);
    expect(groupMessage('Checkout latency high')).toBeDefined();
    expect(actionIds('Checkout latency high')).toEqual(expect.arrayContaining(['alerts.pd_acknowledge', 'alerts.pd_resolve', 'alerts.pd_escalate', 'alerts.pd_reassign']));
    expect(actionIds('Checkout latency high')).not.toContain('alerts.acknowledge');
    group1 = await groupIdOf(P1);
    expect(t.slack.takeViolations()).toEqual([]);
  });

  it('Acknowledge PUTs status acknowledged as the person; the message says so and drops Acknowledge, Resolve stays; the echo adds nothing', async () => {
    const bodies: unknown[] = [];
    users('alice@example.com', [ALICE]);
    pd().matchHeader('from', 'alice@example.com').matchHeader('content-type', 'application/json').put(`/incidents/${P1}`).reply(200, (_u, body) => (bodies.push(body), { incident: { id: P1 } }));
    const { responseId } = await t.click('alerts.pd_acknowledge', String(group1), { user: 'U0ALICE', channel: 'pd-alerts' });
    await stepAndDrain(t, 1000, 3);
    expect(nock.isDone()).toBe(true);
    expect(bodies).toEqual([{ incident: { type: 'incident_reference', status: 'acknowledged' } }]);
    expect(t.slack.replies(responseId).join()).toMatch(/acknowledged 1 PagerDuty incident of group #\d+ in PagerDuty/);
    const shown = text(groupMessage('Checkout latency high'));
    expect(shown).toContain('acknowledged in PagerDuty by <@U0ALICE>');
    expect(actionIds('Checkout latency high')).not.toContain('alerts.pd_acknowledge');
    expect(actionIds('Checkout latency high')).toEqual(expect.arrayContaining(['alerts.pd_resolve', 'alerts.pd_escalate', 'alerts.pd_reassign']));
    // Firebreak's own acknowledgement goes with it: reminders and escalation stop.
    expect((await t.db.pool.query('SELECT acknowledged_by FROM alert_groups WHERE id = $1', [group1])).rows[0].acknowledged_by).toBe('U0ALICE');

    const before = updates();
    await deliver('incident.acknowledged', incident(P1, 'Checkout latency high', { status: 'acknowledged' }), { id: 'EVT-G1-ACK-ECHO', agent: 'Alice' });
    await stepAndDrain(t, 1000, 3);
    expect(updates()).toBe(before);
    expect((await t.db.pool.query('SELECT acknowledged_by, slack_user FROM pagerduty_alert_state WHERE pd_incident_id = $1', [P1])).rows).toEqual([{ acknowledged_by: 'U0ALICE', slack_user: 'U0ALICE' }]);
    expect((await t.db.pool.query(`SELECT echo_event_id FROM pagerduty_actions WHERE pd_incident_id = $1 AND action = 'acknowledged'`, [P1])).rows).toEqual([{ echo_event_id: 'EVT-G1-ACK-ECHO' }]);

    // Pressing a stale Acknowledge again sends nothing.
    const again = await t.click('alerts.pd_acknowledge', String(group1), { user: 'U0ALICE', channel: 'pd-alerts' });
    await t.settle();
    expect(t.slack.replies(again.responseId).join()).toMatch(/already acknowledged in PagerDuty. Nothing was changed/);
  });

  it('Escalate moves to the next level each time; its echo is recognised', async () => {
    const bodies: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      users('alice@example.com', [ALICE]);
      pd().matchHeader('from', 'alice@example.com').put(`/incidents/${P1}`).reply(200, (_u, body) => (bodies.push(body), {}));
      await t.click('alerts.pd_escalate', String(group1), { user: 'U0ALICE', channel: 'pd-alerts' });
      await t.settle();
    }
    expect(bodies).toEqual([
      { incident: { type: 'incident_reference', escalation_level: 2 } },
      { incident: { type: 'incident_reference', escalation_level: 3 } },
    ]);
    await deliver('incident.escalated', incident(P1, 'Checkout latency high'), { id: 'EVT-G1-ESC-ECHO', agent: 'Alice' });
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM pagerduty_actions WHERE pd_incident_id = $1 AND echo_event_id = 'EVT-G1-ESC-ECHO'`, [P1])).rows[0].n).toBe(1);
  });

  it('Reassign… opens a modal; its answer reassigns to the chosen person\'s PagerDuty user (or a policy) as a stored command', async () => {
    await t.click('alerts.pd_reassign', String(group1), { user: 'U0ALICE', channel: 'pd-alerts' });
    await t.settle();
    const view = t.slack.views.at(-1)!.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('paging.pd_reassign');
    expect(JSON.parse(view.private_metadata)).toMatchObject({ groupId: group1 });
    const bodies: unknown[] = [];
    users('alice@example.com', [ALICE]);
    users('bob@example.com', [BOB]);
    pd().matchHeader('from', 'alice@example.com').put(`/incidents/${P1}`).reply(200, (_u, body) => (bodies.push(body), {}));
    expect((await t.submitView('paging.pd_reassign', { user: 'U0BOB', policy: '' }, { user: 'U0ALICE', privateMetadata: view.private_metadata })).status).toBe(200);
    await t.settle();
    users('alice@example.com', [ALICE]);
    pd().put(`/incidents/${P1}`).reply(200, (_u, body) => (bodies.push(body), {}));
    const typed = await t.slash(`/incident pd reassign PDEF001 --group ${group1}`, { user: 'U0ALICE', channel: 'pd-alerts' });
    await t.settle();
    expect(t.slack.replies(typed.responseId).join()).toMatch(/reassigned 1 PagerDuty incident of group #\d+ in PagerDuty to escalation policy PDEF001/);
    expect(bodies).toEqual([
      { incident: { type: 'incident_reference', assignments: [{ assignee: { id: 'PBOB001', type: 'user_reference' } }] } },
      { incident: { type: 'incident_reference', escalation_policy: { id: 'PDEF001', type: 'escalation_policy_reference' } } },
    ]);
  });

  it('people PagerDuty cannot map get a clear message and nothing is sent or recorded', async () => {
    const noEmail = await t.click('alerts.pd_resolve', String(group1), { user: 'U0CAROL', channel: 'pd-alerts' });
    await t.settle();
    expect(t.slack.replies(noEmail.responseId).join()).toMatch(/can't see an e-mail address for you in Slack.*Nothing was changed/);
    t.slack.users.set('U0DAVE', { email: 'dave@example.com' });
    users('dave@example.com', []);
    const unknown = await t.click('alerts.pd_resolve', String(group1), { user: 'U0DAVE', channel: 'pd-alerts' });
    await t.settle();
    expect(t.slack.replies(unknown.responseId).join()).toMatch(/No PagerDuty user has the e-mail address dave@example.com/);
    expect(nock.isDone()).toBe(true);
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM pagerduty_actions WHERE slack_user IN ($1, $2)', ['U0CAROL', 'U0DAVE'])).rows[0].n).toBe(0);
    expect((await t.db.pool.query(`SELECT status FROM alerts WHERE fingerprint = $1`, [P1])).rows[0].status).toBe('firing');
  });

  it('Resolve is retried on 429 and 5xx under the delivery policy; giving up changes nothing; success resolves the alert at once and its echo adds nothing', async () => {
    users('alice@example.com', [ALICE]);
    pd().put(`/incidents/${P1}`).times(3).reply(503, 'unavailable');
    const failed = await t.click('alerts.pd_resolve', String(group1), { user: 'U0ALICE', channel: 'pd-alerts' });
    await t.settle();
    expect(t.slack.replies(failed.responseId).join()).toMatch(/HTTP 503.*after 3 attempts.*Nothing was changed/);
    expect(nock.isDone()).toBe(true);
    expect((await t.db.pool.query(`SELECT status FROM alerts WHERE fingerprint = $1`, [P1])).rows[0].status).toBe('firing');
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM pagerduty_actions WHERE pd_incident_id = $1 AND action = 'resolved'`, [P1])).rows[0].n).toBe(0);

    const bodies: unknown[] = [];
    users('alice@example.com', [ALICE]);
    pd().put(`/incidents/${P1}`).reply(429, { error: { message: 'Rate limit' } }, { 'retry-after': '0' });
    pd().put(`/incidents/${P1}`).reply(500, { error: { message: 'Internal' } });
    pd().matchHeader('from', 'alice@example.com').put(`/incidents/${P1}`).reply(200, (_u, body) => (bodies.push(body), {}));
    const ok = await t.click('alerts.pd_resolve', String(group1), { user: 'U0ALICE', channel: 'pd-alerts' });
    await stepAndDrain(t, 5 * MINUTE, 3);
    expect(t.slack.replies(ok.responseId).join()).toMatch(/resolved 1 PagerDuty incident of group/);
    expect(bodies).toEqual([{ incident: { type: 'incident_reference', status: 'resolved' } }]);
    expect((await t.db.pool.query(`SELECT status FROM alerts WHERE fingerprint = $1`, [P1])).rows[0].status).toBe('resolved');
    expect(text(groupMessage('Checkout latency high'))).toContain('RESOLVED');
    expect(actionIds('Checkout latency high')).not.toContain('alerts.pd_resolve');

    const before = updates();
    await deliver('incident.resolved', incident(P1, 'Checkout latency high', { status: 'resolved' }), { id: 'EVT-G1-RES-ECHO', agent: 'Alice' });
    await stepAndDrain(t, 5 * MINUTE, 3);
    expect(updates()).toBe(before);
    expect((await t.db.pool.query(`SELECT echo_event_id FROM pagerduty_actions WHERE pd_incident_id = $1 AND action = 'resolved'`, [P1])).rows).toEqual([{ echo_event_id: 'EVT-G1-RES-ECHO' }]);
  });
});

describe('changes made in PagerDuty show on the group message', () => {
  it('acknowledged in PagerDuty: the message says by whom and Acknowledge goes; unacknowledged: it comes back', async () => {
    const P2 = 'PGRP0002';
    await deliver('incident.triggered', incident(P2, 'Disk almost full'), { id: 'EVT-G2-TRIG' });
    await stepAndDrain(t, 30_000);
    expect(actionIds('Disk almost full')).toContain('alerts.pd_acknowledge');
    const g2 = await groupIdOf(P2);

    await deliver('incident.acknowledged', incident(P2, 'Disk almost full', { status: 'acknowledged' }), { id: 'EVT-G2-ACK', agent: 'Dana <Oncall>' });
    await stepAndDrain(t, 1000, 3);
    const shown = text(groupMessage('Disk almost full'));
    expect(shown).toContain('acknowledged in PagerDuty by Dana &lt;Oncall&gt;');
    expect(actionIds('Disk almost full')).not.toContain('alerts.pd_acknowledge');
    expect(actionIds('Disk almost full')).toContain('alerts.pd_resolve');
    // Acknowledged anywhere stops Firebreak's reminders and escalation.
    expect((await t.db.pool.query('SELECT acknowledged_by FROM alert_groups WHERE id = $1', [g2])).rows[0].acknowledged_by).toBe('pagerduty:Dana <Oncall>');

    await deliver('incident.unacknowledged', incident(P2, 'Disk almost full'), { id: 'EVT-G2-UNACK' });
    await stepAndDrain(t, 1000, 3);
    expect(text(groupMessage('Disk almost full'))).not.toContain('acknowledged in PagerDuty');
    expect(actionIds('Disk almost full')).toContain('alerts.pd_acknowledge');
    expect(t.slack.takeViolations()).toEqual([]);
  });
});

describe('escalation of a group from PagerDuty', () => {
  it('an acknowledgement made in PagerDuty stops Firebreak\'s escalation; a group nobody acknowledged escalates once', async () => {
    const escalations = (title: string) => {
      const top = groupMessage(title);
      return t.slack.messagesIn('pd-alerts').filter((m) => top && m.thread_ts === top.ts && m.text.includes('Nobody acknowledged'));
    };
    await deliver('incident.triggered', incident('PGRP0003', 'Payments 5xx'), { id: 'EVT-G3-TRIG' });
    await deliver('incident.triggered', incident('PGRP0004', 'Search slow'), { id: 'EVT-G4-TRIG' });
    await stepAndDrain(t, 30_000);
    await stepAndDrain(t, 2 * MINUTE, 3);
    await deliver('incident.acknowledged', incident('PGRP0003', 'Payments 5xx', { status: 'acknowledged' }), { id: 'EVT-G3-ACK', agent: 'Erin' });
    await stepAndDrain(t, 15 * MINUTE, 3);
    expect(escalations('Payments 5xx')).toHaveLength(0);
    expect(escalations('Search slow')).toHaveLength(1);
    expect(escalations('Search slow')[0]!.text).toContain('<!subteam^S0LEADS>');
  });

  it('unacknowledged in PagerDuty after the escalation job stood down: escalates once, escalate_after from the un-acknowledgement', async () => {
    const escalations = () => {
      const top = groupMessage('Queue backlog');
      return t.slack.messagesIn('pd-alerts').filter((m) => top && m.thread_ts === top.ts && m.text.includes('Nobody acknowledged'));
    };
    await deliver('incident.triggered', incident('PGRP0005', 'Queue backlog'), { id: 'EVT-G5-TRIG' });
    await stepAndDrain(t, 30_000);
    await deliver('incident.acknowledged', incident('PGRP0005', 'Queue backlog', { status: 'acknowledged' }), { id: 'EVT-G5-ACK', agent: 'Erin' });
    // The episode's job runs at escalate_after and stands down: the group is acknowledged.
    await stepAndDrain(t, 15 * MINUTE, 3);
    expect(escalations()).toHaveLength(0);
    const g5 = await groupIdOf('PGRP0005');
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE queue = 'alerts.escalate' AND payload->>'groupId' = $1 AND status = 'done'`, [String(g5)])).rows[0].n).toBe(1);

    await deliver('incident.unacknowledged', incident('PGRP0005', 'Queue backlog'), { id: 'EVT-G5-UNACK' });
    await stepAndDrain(t, 9 * MINUTE, 3);
    expect(escalations()).toHaveLength(0);
    await stepAndDrain(t, 2 * MINUTE, 3);
    expect(escalations()).toHaveLength(1);
    expect(escalations()[0]!.text).toContain('<!subteam^S0LEADS>');
    // The webhook delivered again (PagerDuty retries) and more time: still once.
    const again = webhookBody('incident.unacknowledged', incident('PGRP0005', 'Queue backlog'), { id: 'EVT-G5-UNACK', at: t.clock.now() });
    expect((await postWebhook(t, again, { 'x-pagerduty-signature': signature(SECRET, again), 'x-webhook-id': 'wh-EVT-G5-UNACK' })).status).toBeLessThan(300);
    await stepAndDrain(t, 30 * MINUTE, 3);
    expect(escalations()).toHaveLength(1);
  });

  it('acknowledged again before the new escalate_after passes: no escalation; an earlier un-acknowledgement\'s job does not fire early', async () => {
    const escalations = () => {
      const top = groupMessage('Cache misses');
      return t.slack.messagesIn('pd-alerts').filter((m) => top && m.thread_ts === top.ts && m.text.includes('Nobody acknowledged'));
    };
    const data = (status?: string) => incident('PGRP0006', 'Cache misses', status ? { status } : {});
    await deliver('incident.triggered', data(), { id: 'EVT-G6-TRIG' });
    await stepAndDrain(t, 30_000);
    await deliver('incident.acknowledged', data('acknowledged'), { id: 'EVT-G6-ACK1', agent: 'Erin' });
    await stepAndDrain(t, 15 * MINUTE, 3);
    await deliver('incident.unacknowledged', data(), { id: 'EVT-G6-UNACK1' });
    await stepAndDrain(t, 5 * MINUTE, 3);
    await deliver('incident.acknowledged', data('acknowledged'), { id: 'EVT-G6-ACK2', agent: 'Erin' });
    await stepAndDrain(t, 2 * MINUTE, 3);
    await deliver('incident.reopened', data(), { id: 'EVT-G6-REOPEN' });
    // The first un-acknowledgement's job falls due now: only 3 minutes since the reopen.
    await stepAndDrain(t, 4 * MINUTE, 3);
    expect(escalations()).toHaveLength(0);
    await stepAndDrain(t, 7 * MINUTE, 3);
    expect(escalations()).toHaveLength(1);
  });
});

