import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, type TestApp } from '../support/app.js';
import { startTrackerApp } from './support.js';
import { FakeClock } from '../../src/clock.js';

/**
 * Follow-ups exported to Jira Cloud, faked with nock on acme.atlassian.net with Jira's real
 * payload shapes: create in a project with a type, labels and an assignee accountId (basic
 * auth), a retry after a lost reply found by JQL instead of a second issue, the signed
 * webhook and the poll bringing "done" back.
 */
const SITE = 'https://acme.atlassian.net';
const EMAIL = 'firebreak@acme.example';
const TOKEN = 'ATATT3xFfGF0-test-token';
const HOOK_SECRET = 'jira-webhook-secret-0123456789';
const BOB_ACCOUNT = '5b10ac8d82e05b22cc7d4ef5';
const clock = new FakeClock(new Date('2026-03-02T10:00:00Z'));
let t: TestApp;
let channel = '';

beforeAll(async () => {
  t = await startTrackerApp(clock, { tracker: 'jira', jira: { site: SITE, email: EMAIL, projectKey: 'OPS', issueType: 'Task', apiToken: TOKEN, webhookSecret: HOOK_SECRET, users: { U0BOB: BOB_ACCOUNT } } });
  ({ channel } = await declareIncident(t, 'P2', 'Search indexing lag'));
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await t.stop();
  nock.enableNetConnect();
});

const basic = `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`;
const jira = () => nock(SITE, { reqheaders: { authorization: basic } });
const searchAnswer = (issues: { key: string; category: string }[]) => ({
  issues: issues.map((i, n) => ({ expand: '', id: String(10000 + n), self: `${SITE}/rest/api/3/issue/${10000 + n}`, key: i.key, fields: { status: { self: `${SITE}/rest/api/3/status/1`, name: i.category === 'done' ? 'Done' : 'To Do', id: '1', statusCategory: { self: `${SITE}/rest/api/3/statuscategory/2`, id: 2, key: i.category, colorName: 'blue-gray', name: i.category } } } })),
  isLast: true,
});
const issueAnswer = (key: string, category: string) => ({ expand: 'renderedFields', id: '10007', self: `${SITE}/rest/api/3/issue/10007`, key, fields: searchAnswer([{ key, category }]).issues[0]!.fields });
const row = async (title: string) => (await t.db.pool.query('SELECT * FROM followups WHERE title = $1', [title])).rows[0];
const note = async (text: string) => {
  await t.slash(`/incident note ${text}`, { channel });
  await t.settle();
};

describe('export to Jira Cloud', () => {
  it('creates the issue in the project with its type, labels, marker label and assignee', async () => {
    const jql: string[] = [];
    const created: { fields: Record<string, unknown> }[] = [];
    jira().post('/rest/api/3/search/jql').reply(200, (_u, body) => {
      jql.push((body as { jql: string }).jql);
      return searchAnswer([]);
    });
    jira().post('/rest/api/3/issue').reply(201, (_u, body) => {
      created.push(body as { fields: Record<string, unknown> });
      return { id: '10007', key: 'OPS-7', self: `${SITE}/rest/api/3/issue/10007` };
    });
    await note('action: Alert on indexing lag <@U0BOB|bob> due 2026-03-15');
    const f = await row('Alert on indexing lag');
    expect(jql).toEqual([`project = "OPS" AND labels = "firebreak-followup-${f.id}"`]);
    expect(created[0]!.fields).toMatchObject({
      project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Alert on indexing lag',
      labels: ['follow-up', `firebreak-followup-${f.id}`], assignee: { accountId: BOB_ACCOUNT },
      description: { type: 'doc', version: 1 },
    });
    expect(f).toMatchObject({ tracker: 'jira', tracker_key: 'OPS-7', tracker_url: `${SITE}/browse/OPS-7`, export_state: 'exported' });
  });

  it('a retry after a lost reply finds the issue by its label and creates no second one', async () => {
    jira().post('/rest/api/3/search/jql').reply(200, searchAnswer([]));
    jira().post('/rest/api/3/issue').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    await note('action: Shard the search index @U0CAROL');
    expect((await row('Shard the search index')).export_state).toBe('pending');
    const second = jira().post('/rest/api/3/issue').reply(201, { id: '10099', key: 'OPS-99', self: `${SITE}/rest/api/3/issue/10099` });
    jira().post('/rest/api/3/search/jql').reply(200, searchAnswer([{ key: 'OPS-8', category: 'new' }]));
    clock.advance(31_000);
    await t.settle();
    expect(await row('Shard the search index')).toMatchObject({ export_state: 'exported', tracker_key: 'OPS-8' });
    expect(second.isDone()).toBe(false);
  });

  it('a refusal (a bad project) is failed with Jira\'s reason, not retried blindly', async () => {
    jira().post('/rest/api/3/search/jql').reply(200, searchAnswer([]));
    jira().post('/rest/api/3/issue').reply(400, { errorMessages: [], errors: { issuetype: 'Specify a valid issue type' } });
    await note('action: Review the indexer memory limits');
    expect(await row('Review the indexer memory limits')).toMatchObject({ export_state: 'failed', export_error: expect.stringContaining('issuetype: Specify a valid issue type') });
  });
});

describe('state flows back from Jira', () => {
  const sign = (body: string, secret = HOOK_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const deliver = (body: string, headers: Record<string, string>) =>
    fetch(`${t.url}/webhooks/jira`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const statusChange = { id: '10400', items: [{ field: 'status', fieldtype: 'jira', fieldId: 'status', from: '10000', fromString: 'To Do', to: '10001', toString: 'Done' }] };
  const commentOnly = { id: '10401', items: [{ field: 'labels', fieldtype: 'jira', fieldId: 'labels', from: null, fromString: '', to: null, toString: 'urgent' }] };
  const updated = (key: string, category: string, timestamp = 1772445600000, changelog: unknown = statusChange) => JSON.stringify({
    timestamp, webhookEvent: 'jira:issue_updated', issue_event_type_name: 'issue_generic',
    user: { accountId: BOB_ACCOUNT, displayName: 'Bob' }, issue: issueAnswer(key, category), changelog,
  });

  it('a signed issue_updated to a done status marks the follow-up done; bad signatures are 401', async () => {
    const body = updated('OPS-7', 'done');
    expect((await deliver(body, {})).status).toBe(401);
    expect((await deliver(body, { 'x-hub-signature': sign(body, 'wrong') })).status).toBe(401);
    expect((await row('Alert on indexing lag')).status).toBe('open');
    const res = await deliver(body, { 'x-hub-signature': sign(body) });
    expect(res.status).toBe(200);
    expect(await row('Alert on indexing lag')).toMatchObject({ status: 'done', closed_by: 'tracker' });
    expect(await (await deliver(body, { 'x-hub-signature': sign(body) })).json()).toEqual({ status: 'unchanged' });
    const huge = JSON.stringify({ webhookEvent: 'jira:issue_updated', padding: 'x'.repeat(2 * 1024 * 1024) });
    expect((await deliver(huge, { 'x-hub-signature': sign(huge) })).status).toBe(413);
    const junk = '{"webhookEvent":"jira:issue_updated","issue":{"key":"nope"}}';
    expect((await deliver(junk, { 'x-hub-signature': sign(junk) })).status).toBe(422);
    const other = updated('OTHER-1', 'done');
    expect((await deliver(other, { 'x-hub-signature': sign(other) })).status).toBe(202);
  });

  it('an edit that changes no status leaves a done follow-up done; a reopen opens it; the older close replayed changes nothing', async () => {
    const edit = updated('OPS-7', 'new', 1772445700000, commentOnly);
    const ignored = await deliver(edit, { 'x-hub-signature': sign(edit) });
    expect(ignored.status).toBe(202);
    expect((await row('Alert on indexing lag')).status).toBe('done');
    const reopen = updated('OPS-7', 'new', 1772445800000);
    expect(await (await deliver(reopen, { 'x-hub-signature': sign(reopen) })).json()).toEqual({ status: 'reopened' });
    const old = updated('OPS-7', 'done');
    expect(await (await deliver(old, { 'x-hub-signature': sign(old) })).json()).toEqual({ status: 'unchanged' });
    expect((await row('Alert on indexing lag')).status).toBe('open');
  });

  it('the poll reads open exported issues back', async () => {
    jira().get('/rest/api/3/issue/OPS-8').query({ fields: 'status,updated' }).reply(200, issueAnswer('OPS-8', 'done'));
    jira().get('/rest/api/3/issue/OPS-7').query({ fields: 'status,updated' }).reply(200, issueAnswer('OPS-7', 'new'));
    expect(await t.app.services.followups.poll()).toMatchObject({ closed: 1, errors: 0 });
    expect(await row('Shard the search index')).toMatchObject({ status: 'done', closed_by: 'tracker' });
  });
});
