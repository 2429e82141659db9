/**
 * Acting in PagerDuty from Slack: the buttons under a page and `/incident pd` send exactly the
 * REST v2 requests PagerDuty documents, with the From header of the person's PagerDuty user
 * (Slack e-mail -> GET /users?query=); unmapped people are told why and nothing is sent;
 * 429/5xx are retried under the delivery policy; PagerDuty's webhook echo of the same change
 * is recognised and not counted twice. PagerDuty is faked with nock on its real hostnames.
 */
import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { RETRY_PAGING_ACTION } from '../../src/templates/paging.js';
import { accepted, fakeEvents, incidentByTitle, isolateNetwork, PD_ALICE, PD_BOB, pdRest, pdUsers, postWebhook, releaseAfterTests, signature, webhookBody } from './support.js';

const SECRET = 'whsec-controls-000000000000';
const TOKEN = 'pd-rest-token-0123456789';
const DECLARED = new Date('2026-03-01T10:00:00Z');
const PD_ID = 'PINC001';

let t: TestApp;
let inc: Awaited<ReturnType<typeof incidentByTitle>>;
let pageId = '';
let dedupKey = '';

beforeAll(async () => {
  isolateNetwork();
  t = await startTestApp({
    clock: new FakeClock(DECLARED),
    config: {
      paging: {
        routingKey: 'R0CONTROLS0000000000000000000001', apiToken: TOKEN, webhookSecrets: [SECRET],
        delivery: { attempts: 4, backoffSeconds: 0, maxBackoffSeconds: 0, maxRetryAfterSeconds: 0 },
      },
    },
  });
  t.slack.users.set('U0ALICE', { email: 'alice@example.com' });
  t.slack.users.set('U0BOB', { email: 'bob@example.com' });
  t.slack.users.set('U0DAVE', { email: 'dave@example.com' });
  fakeEvents([accepted()]);
  await t.slash('/incident declare P1 Checkout errors');
  await t.settle();
  inc = await incidentByTitle(t, 'Checkout errors');
  dedupKey = `firebreak-incident-${inc.id}-default`;
  const notice = t.slack.messagesIn(inc.channel_id).find((m) => m.text.startsWith('Paged default'))!;
  pageId = /"action_id":"paging\.pd_acknowledge","value":"(\d+)"/.exec(JSON.stringify(notice.blocks))![1]!;
  expect(t.slack.takeViolations()).toEqual([]);
});
releaseAfterTests(() => t);

const pd = () => pdRest(TOKEN);
const users = (email: string, list: { id: string; email: string; name: string }[]) => pdUsers(TOKEN, email, list);
const ALICE = PD_ALICE;
const BOB = PD_BOB;

const events = async (type: string) => (await t.db.pool.query('SELECT actor, payload FROM events WHERE incident_id = $1 AND type = $2 ORDER BY id', [inc.id, type])).rows;
const channel = () => t.slack.messagesIn(inc.channel_id).map((m) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`);
/** The "Paged …" message under which the buttons are, as it reads now (edited in place). */
const notice = (channelId = inc.channel_id) => {
  const m = t.slack.messagesIn(channelId).find((x) => x.text.startsWith('Paged default'))!;
  return { text: `${m.text} ${JSON.stringify(m.blocks ?? [])}`, actions: [...JSON.stringify(m.blocks ?? []).matchAll(/"action_id":"([^"]+)"/g)].map((x) => x[1]) };
};
async function deliver(type: string, agent: string, id: string) {
  const body = webhookBody(type, { id: PD_ID, type: 'incident', incident_key: dedupKey, status: 'acknowledged' }, { agent, id, at: t.clock.now() });
  const res = await postWebhook(t, body, { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': `wh-${id}` });
  expect(res.status).toBe(202);
  await t.settle();
}

describe('PagerDuty from Slack', () => {
  it('Acknowledge: finds the PagerDuty incident, PUTs status acknowledged as the person, records MTTA once; the webhook echo adds nothing', async () => {
    const put: unknown[] = [];
    users('alice@example.com', [{ id: 'PSOMEONE', email: 'alice.other@example.com', name: 'Not her' }, ALICE]);
    pd().get('/incidents').query({ incident_key: dedupKey }).reply(200, { incidents: [{ id: PD_ID, html_url: `https://acme.pagerduty.com/incidents/${PD_ID}` }] });
    pd().matchHeader('from', 'alice@example.com').matchHeader('content-type', 'application/json').put(`/incidents/${PD_ID}`).reply(200, (_u, body) => (put.push(body), { incident: { id: PD_ID } }));
    t.clock.set(new Date(DECLARED.getTime() + 3 * 60_000));
    const { responseId } = await t.click('paging.pd_acknowledge', pageId, { user: 'U0ALICE', channel: inc.channel_id });
    await t.settle();
    expect(nock.isDone()).toBe(true);
    expect(put).toEqual([{ incident: { type: 'incident_reference', status: 'acknowledged' } }]);
    expect(t.slack.replies(responseId).join()).toMatch(/acknowledged the default page of INC-\d+ in PagerDuty/);
    const row = (await t.db.pool.query('SELECT acknowledged_at FROM incidents WHERE id = $1', [inc.id])).rows[0];
    expect(row.acknowledged_at.toISOString()).toBe(new Date(DECLARED.getTime() + 3 * 60_000).toISOString());
    expect((await events('incident.acknowledged')).map((e) => e.actor)).toEqual(['U0ALICE']);
    expect(channel().filter((m) => m.includes('acknowledged the *default* page in PagerDuty'))).toHaveLength(1);
    // The buttons follow PagerDuty's state: no Acknowledge once acknowledged; Resolve stays.
    expect(notice().text).toContain('Acknowledged in PagerDuty by <@U0ALICE>');
    expect(notice().actions).toEqual(['paging.pd_resolve', 'paging.pd_escalate', 'paging.pd_reassign']);

    const before = channel().length;
    t.clock.advance(5_000);
    await deliver('incident.acknowledged', 'Alice', 'EVT-ECHO-ACK');
    expect((await events('incident.acknowledged')).length).toBe(1);
    expect(channel().length).toBe(before);
  });

  it('Escalate moves to the next level each time; its echo is not recorded again', async () => {
    const bodies: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      users('alice@example.com', [ALICE]);
      pd().matchHeader('from', 'alice@example.com').put(`/incidents/${PD_ID}`).reply(200, (_u, body) => (bodies.push(body), {}));
      await t.click('paging.pd_escalate', pageId, { user: 'U0ALICE', channel: inc.channel_id });
      await t.settle();
    }
    expect(bodies).toEqual([
      { incident: { type: 'incident_reference', escalation_level: 2 } },
      { incident: { type: 'incident_reference', escalation_level: 3 } },
    ]);
    await deliver('incident.escalated', 'Alice', 'EVT-ECHO-ESC');
    expect((await events('pagerduty.escalated')).length).toBe(2);
  });

  it('/incident pd reassign @person assigns their PagerDuty user; a policy id reassigns to the policy', async () => {
    const bodies: unknown[] = [];
    users('alice@example.com', [ALICE]);
    users('bob@example.com', [BOB]);
    pd().matchHeader('from', 'alice@example.com').put(`/incidents/${PD_ID}`).reply(200, (_u, body) => (bodies.push(body), {}));
    const a = await t.slash('/incident pd reassign <@U0BOB|bob>', { user: 'U0ALICE', channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(a.responseId).join()).toMatch(/reassigned the default page .* to <@U0BOB>/);
    users('alice@example.com', [ALICE]);
    pd().put(`/incidents/${PD_ID}`).reply(200, (_u, body) => (bodies.push(body), {}));
    await t.slash(`/incident pd reassign pdef001 ${inc.id}`, { user: 'U0ALICE', channel: 'C0ELSEWHERE' });
    await t.settle();
    expect(bodies).toEqual([
      { incident: { type: 'incident_reference', assignments: [{ assignee: { id: 'PBOB001', type: 'user_reference' } }] } },
      { incident: { type: 'incident_reference', escalation_policy: { id: 'PDEF001', type: 'escalation_policy_reference' } } },
    ]);
  });

  it('Reassign… opens a modal whose answer runs as a stored command', async () => {
    await t.click('paging.pd_reassign', pageId, { user: 'U0ALICE', channel: inc.channel_id });
    await t.settle();
    const view = t.slack.views.at(-1)!.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('paging.pd_reassign');
    expect(t.slack.takeViolations()).toEqual([]);
    const both = await t.submitView('paging.pd_reassign', { user: 'U0BOB', policy: 'PDEF001' }, { user: 'U0ALICE', privateMetadata: view.private_metadata });
    expect(JSON.stringify(await both.json())).toContain('not both');
    const bodies: unknown[] = [];
    users('alice@example.com', [ALICE]);
    users('bob@example.com', [BOB]);
    pd().put(`/incidents/${PD_ID}`).reply(200, (_u, body) => (bodies.push(body), {}));
    expect((await t.submitView('paging.pd_reassign', { user: 'U0BOB', policy: '' }, { user: 'U0ALICE', privateMetadata: view.private_metadata })).status).toBe(200);
    await t.settle();
    expect(bodies).toEqual([{ incident: { type: 'incident_reference', assignments: [{ assignee: { id: 'PBOB001', type: 'user_reference' } }] } }]);
  });

  it('people PagerDuty cannot map get a clear message and nothing is sent', async () => {
    const noEmail = await t.click('paging.pd_acknowledge', pageId, { user: 'U0CAROL', channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(noEmail.responseId).join()).toMatch(/can't see an e-mail address for you in Slack.*Nothing was changed/);
    users('dave@example.com', []);
    const unknown = await t.click('paging.pd_resolve', pageId, { user: 'U0DAVE', channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(unknown.responseId).join()).toMatch(/No PagerDuty user has the e-mail address dave@example.com/);
    expect(nock.isDone()).toBe(true);
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM pagerduty_actions WHERE slack_user IN ($1, $2)', ['U0CAROL', 'U0DAVE'])).rows[0].n).toBe(0);
  });

  it('429 and 5xx are retried under the delivery policy; giving up leaves nothing recorded', async () => {
    users('alice@example.com', [ALICE]);
    pd().put(`/incidents/${PD_ID}`).reply(500, { error: { message: 'Internal' } });
    pd().put(`/incidents/${PD_ID}`).reply(500, { error: { message: 'Internal' } });
    pd().put(`/incidents/${PD_ID}`).reply(502, 'bad gateway');
    pd().put(`/incidents/${PD_ID}`).reply(503, 'unavailable');
    const failed = await t.click('paging.pd_resolve', pageId, { user: 'U0ALICE', channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(failed.responseId).join()).toMatch(/HTTP 503.*after 4 attempts.*Nothing was changed/);
    expect(nock.isDone()).toBe(true);
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM pagerduty_actions WHERE action = 'resolved'`)).rows[0].n).toBe(0);

    const bodies: unknown[] = [];
    users('alice@example.com', [ALICE]);
    pd().put(`/incidents/${PD_ID}`).reply(429, { error: { message: 'Rate limit' } }, { 'retry-after': '0' });
    pd().put(`/incidents/${PD_ID}`).reply(503, 'unavailable');
    pd().matchHeader('from', 'alice@example.com').put(`/incidents/${PD_ID}`).reply(200, (_u, body) => (bodies.push(body), {}));
    const ok = await t.click('paging.pd_resolve', pageId, { user: 'U0ALICE', channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(ok.responseId).join()).toMatch(/resolved the default page/);
    expect(bodies).toEqual([{ incident: { type: 'incident_reference', status: 'resolved' } }]);
    expect((await t.db.pool.query('SELECT status FROM pages WHERE id = $1', [Number(pageId)])).rows[0].status).toBe('resolved');
    expect(notice().text).toContain('Resolved in PagerDuty');
    expect(notice().actions).toEqual([]);
    const before = channel().length;
    await deliver('incident.resolved', 'Alice', 'EVT-ECHO-RES');
    expect((await events('pagerduty.resolved')).length).toBe(1);
    expect(channel().length).toBe(before);
  });

  it('a change made in PagerDuty edits the paged message too: acknowledged there drops Acknowledge, resolved there drops the buttons', async () => {
    fakeEvents([accepted()]);
    await t.slash('/incident declare P1 Search down');
    await t.settle();
    const other = await incidentByTitle(t, 'Search down');
    const key = `firebreak-incident-${other.id}-default`;
    expect(notice(other.channel_id).actions).toEqual(['paging.pd_acknowledge', 'paging.pd_resolve', 'paging.pd_escalate', 'paging.pd_reassign']);
    const send = async (type: string, id: string) => {
      const body = webhookBody(type, { id: 'PINC002', type: 'incident', incident_key: key }, { agent: 'Dana <Oncall>', id, at: t.clock.now() });
      expect((await postWebhook(t, body, { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': `wh-${id}` })).status).toBe(202);
      await t.settle();
    };
    await send('incident.acknowledged', 'EVT-OUT-ACK');
    expect(notice(other.channel_id).text).toContain('Acknowledged in PagerDuty by *Dana &lt;Oncall&gt;*');
    expect(notice(other.channel_id).actions).toEqual(['paging.pd_resolve', 'paging.pd_escalate', 'paging.pd_reassign']);
    await send('incident.resolved', 'EVT-OUT-RES');
    expect(notice(other.channel_id).text).toContain('Resolved in PagerDuty');
    expect(notice(other.channel_id).actions).toEqual([]);
    expect(t.slack.takeViolations()).toEqual([]);
  });

  it('the edited paged message keeps how the page got through: "after N attempts" and "Retried by"', async () => {
    // A 400 fails at once (no background retries), so the Retry button is there to press.
    fakeEvents([{ status: 400, body: { status: 'invalid event', message: 'Event object is invalid' } }]);
    await t.slash('/incident declare P1 Ledger stuck');
    await t.settle();
    const other = await incidentByTitle(t, 'Ledger stuck');
    const failure = t.slack.messagesIn(other.channel_id).find((m) => m.text.startsWith('Paging default failed'))!;
    fakeEvents([{ status: 500, body: { message: 'boom' } }, accepted()]);
    await t.click(RETRY_PAGING_ACTION, `${other.id}:default`, { user: 'U0BOB', channel: other.channel_id, messageTs: failure.ts });
    await t.settle();
    const how = /after 2 attempts\.\s*Retried by <@U0BOB>/;
    expect(notice(other.channel_id).text).toMatch(how);
    const body = webhookBody('incident.acknowledged', { id: 'PINC003', type: 'incident', incident_key: `firebreak-incident-${other.id}-default` }, { agent: 'Dana', id: 'EVT-RETRIED-ACK', at: t.clock.now() });
    expect((await postWebhook(t, body, { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': 'wh-EVT-RETRIED-ACK' })).status).toBe(202);
    await t.settle();
    expect(notice(other.channel_id).text).toContain('Acknowledged in PagerDuty by *Dana*');
    expect(notice(other.channel_id).text).toMatch(how);
  });
});
