import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, type TestApp } from '../support/app.js';
import { startTrackerApp } from './support.js';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { pollCron } from '../../src/app/followups.js';

/**
 * Follow-ups exported to GitHub Issues, faked with nock on api.github.com with GitHub's real
 * payload shapes: create with labels and assignee, a retry after a lost reply that finds the
 * issue instead of making a second, GitHub down (pending, failed, rearmed by the poll), the
 * webhook (signature good, bad, replayed, garbage) and the poll bringing closes back.
 */
const TOKEN = 'ghp_test0000000000000000000000000000000';
const HOOK_SECRET = 'gh-webhook-secret-0123456789';
const API = 'https://api.github.com';
const clock = new FakeClock(new Date('2026-03-02T10:00:00Z'));
let t: TestApp;
let id = 0;
let channel = '';

beforeAll(async () => {
  t = await startTrackerApp(clock, { tracker: 'github', github: { owner: 'acme', repo: 'api', token: TOKEN, webhookSecret: HOOK_SECRET, labels: ['follow-up', 'incident'], users: { U0BOB: 'bob-gh' } } });
  t.slack.users.set('U0BOB', { display_name: 'bob' });
  ({ id, channel } = await declareIncident(t, 'P1', 'Payments timeouts'));
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await t.stop();
  nock.enableNetConnect();
});

const gh = () => nock(API, { reqheaders: { authorization: `Bearer ${TOKEN}`, accept: 'application/vnd.github+json' } });
/** An issue as GitHub's REST API answers it (trimmed of URLs we do not read, but shaped like the real one). */
const ghIssue = (n: number, body: string, state: 'open' | 'closed' = 'open', updatedAt = '2026-03-02T10:00:01Z') => ({
  url: `${API}/repos/acme/api/issues/${n}`, repository_url: `${API}/repos/acme/api`, html_url: `https://github.com/acme/api/issues/${n}`,
  id: 1000 + n, node_id: `I_kwDO${n}`, number: n, title: 'x', user: { login: 'firebreak-bot', id: 9, type: 'Bot' },
  labels: [{ id: 1, name: 'follow-up', color: 'ededed', default: false }], state, locked: false,
  assignee: null, assignees: [], milestone: null, comments: 0, created_at: '2026-03-02T10:00:01Z', updated_at: updatedAt,
  closed_at: state === 'closed' ? '2026-03-03T10:00:00Z' : null, author_association: 'NONE', body, state_reason: state === 'closed' ? 'completed' : null,
});
const row = async (title: string) => (await t.db.pool.query('SELECT * FROM followups WHERE title = $1', [title])).rows[0];
const note = async (text: string) => {
  await t.slash(`/incident note ${text}`, { channel });
  await t.settle();
};
/** Runs due jobs after moving the clock on (the export's back-off). */
const later = async (ms: number) => {
  clock.advance(ms);
  await t.settle();
};

describe('export to GitHub Issues', () => {
  it('creates the issue with labels, assignee and a hidden marker; the link is stored and shown', async () => {
    const created: Record<string, unknown>[] = [];
    const list = gh().get('/repos/acme/api/issues').query((q) => q.state === 'all' && typeof q.since === 'string').reply(200, []);
    const post = gh().post('/repos/acme/api/issues').reply(201, (_uri, body) => {
      created.push(body as Record<string, unknown>);
      return ghIssue(42, String((body as { body: string }).body));
    });
    await note('action: Raise the payments client timeout <@U0BOB|bob> due 2026-03-20');
    expect(list.isDone() && post.isDone()).toBe(true);
    expect(created).toHaveLength(1);
    const f = await row('Raise the payments client timeout');
    expect(created[0]).toMatchObject({ title: 'Raise the payments client timeout', labels: ['follow-up', 'incident'], assignees: ['bob-gh'] });
    expect(String(created[0]!.body)).toContain(`<!-- firebreak-followup-${f.id} -->`);
    expect(String(created[0]!.body)).toContain(`INC-${id} (P1): Payments timeouts`);
    expect(String(created[0]!.body)).toContain('Owner: @bob');
    expect(f).toMatchObject({ tracker: 'github', tracker_key: 'acme/api#42', tracker_url: 'https://github.com/acme/api/issues/42', export_state: 'exported', export_error: null });
    const { responseId } = await t.slash('/incident followups', { channel });
    await t.settle();
    expect(JSON.stringify(t.slack.responses.filter((r) => r.url === `/response/${responseId}`))).toContain('<https://github.com/acme/api/issues/42|acme/api#42>');
  });

  it('a retry after a lost reply finds the issue it made and creates no second one', async () => {
    let made = '';
    gh().get('/repos/acme/api/issues').query(true).reply(200, []);
    // GitHub made the issue, but the connection broke before the answer came back.
    const post = gh().post('/repos/acme/api/issues').reply(function (_uri, body) {
      made = String((body as { body: string }).body);
      this.req.destroy();
      return [201, {}];
    });
    await note('action: Add a payments latency SLO @U0BOB');
    expect(post.isDone()).toBe(true);
    const f = await row('Add a payments latency SLO');
    expect(f.export_state).toBe('pending');
    expect(f.export_error).toMatch(/GitHub did not answer/);
    const secondPost = gh().post('/repos/acme/api/issues').reply(201, ghIssue(99, 'duplicate'));
    gh().get('/repos/acme/api/issues').query(true).reply(200, [ghIssue(44, 'someone else\'s issue'), ghIssue(43, made)]);
    await later(31_000);
    expect(await row('Add a payments latency SLO')).toMatchObject({ export_state: 'exported', tracker_key: 'acme/api#43' });
    expect(secondPost.isDone()).toBe(false);
  });

  it('GitHub down: pending with the reason, failed when the job gives up, rearmed by the poll, nothing lost', async () => {
    gh().get('/repos/acme/api/issues').query(true).times(5).reply(503, { message: 'Service Unavailable' });
    await note('action: Document the payments failover');
    let f = await row('Document the payments failover');
    expect(f).toMatchObject({ export_state: 'pending', export_error: 'GitHub answered 503; will retry' });
    for (let i = 0; i < 6 && f.export_state !== 'failed'; i++) {
      await later(10 * MINUTE);
      f = await row('Document the payments failover');
    }
    expect(f.export_state).toBe('failed');
    expect(f.export_error).toContain('503');
    // The listing says so.
    const { responseId } = await t.slash('/incident followups', { channel });
    await t.settle();
    expect(JSON.stringify(t.slack.responses.filter((r) => r.url === `/response/${responseId}`))).toContain('export to github failed');
    // GitHub is back: the poll reads the open issues and rearms the failed export.
    gh().get('/repos/acme/api/issues/42').reply(200, ghIssue(42, 'x'));
    gh().get('/repos/acme/api/issues/43').reply(200, ghIssue(43, 'x'));
    gh().get('/repos/acme/api/issues').query(true).reply(200, []);
    gh().post('/repos/acme/api/issues').reply(201, (_uri, body) => ghIssue(45, String((body as { body: string }).body)));
    expect(await t.app.services.followups.poll()).toMatchObject({ rearmed: 1, closed: 0, errors: 0 });
    await t.settle();
    expect(await row('Document the payments failover')).toMatchObject({ export_state: 'exported', tracker_key: 'acme/api#45', export_error: null });
  });
});

describe('state flows back from GitHub', () => {
  const sign = (body: string, secret = HOOK_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const deliver = (body: string, headers: Record<string, string>) =>
    fetch(`${t.url}/webhooks/github`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': `d-${Math.random()}`, ...headers } });
  const issuesEvent = (action: string, n: number, state: 'open' | 'closed', updatedAt = '2026-03-03T10:00:00Z') =>
    JSON.stringify({ action, issue: ghIssue(n, 'b', state, updatedAt), repository: { id: 1, name: 'api', full_name: 'Acme/api', private: true }, sender: { login: 'bob-gh', id: 7 } });

  it('a signed closed event marks the follow-up done, audited; a replay changes nothing', async () => {
    const body = issuesEvent('closed', 42, 'closed');
    const res = await deliver(body, { 'x-hub-signature-256': sign(body) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'closed' });
    const f = await row('Raise the payments client timeout');
    expect(f).toMatchObject({ status: 'done', closed_by: 'tracker' });
    expect(f.closed_at.toISOString()).toBe(clock.now().toISOString());
    const again = await deliver(body, { 'x-hub-signature-256': sign(body) });
    expect(await again.json()).toEqual({ status: 'unchanged' });
    const ev = (await t.db.pool.query(`SELECT * FROM events WHERE type = 'followup.closed' AND payload->>'followupId' = $1`, [String(f.id)])).rows;
    expect(ev).toHaveLength(1);
    expect(ev[0].payload).toMatchObject({ closedBy: 'tracker', tracker: 'github', key: 'acme/api#42', via: 'webhook' });
  });

  it('refuses a missing or wrong signature with 401 and changes nothing', async () => {
    const body = issuesEvent('reopened', 42, 'open');
    expect((await deliver(body, {})).status).toBe(401);
    expect((await deliver(body, { 'x-hub-signature-256': sign(body, 'not-the-secret') })).status).toBe(401);
    expect((await deliver(body, { 'x-hub-signature-256': sign(body + ' ') })).status).toBe(401);
    expect((await row('Raise the payments client timeout')).status).toBe('done');
  });

  it('signed garbage is a 4xx, an issue Firebreak did not make is 202, a ping is 200; never a 5xx', async () => {
    for (const junk of ['{"action":', '[]', '{"action":"closed"}', JSON.stringify({ action: 'closed', issue: { number: -1, state: 'gone' }, repository: { full_name: '../../etc' } })]) {
      const res = await deliver(junk, { 'x-hub-signature-256': sign(junk) });
      expect([400, 422]).toContain(res.status);
    }
    // More than the 1 MiB limit, correctly signed: refused by size before anything reads it.
    const huge = issuesEvent('closed', 42, 'closed').replace('"b"', JSON.stringify('x'.repeat(2 * 1024 * 1024)));
    expect((await deliver(huge, { 'x-hub-signature-256': sign(huge) })).status).toBe(413);
    const unknown = issuesEvent('closed', 999, 'closed');
    expect((await deliver(unknown, { 'x-hub-signature-256': sign(unknown) })).status).toBe(202);
    const labeled = issuesEvent('labeled', 42, 'open');
    expect((await deliver(labeled, { 'x-hub-signature-256': sign(labeled) })).status).toBe(202);
    const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    expect((await deliver(ping, { 'x-hub-signature-256': sign(ping), 'x-github-event': 'ping' })).status).toBe(200);
  });

  it('a reopened issue opens the follow-up again; the earlier signed close replayed afterwards changes nothing', async () => {
    const body = issuesEvent('reopened', 42, 'open', '2026-03-04T10:00:00Z');
    const res = await deliver(body, { 'x-hub-signature-256': sign(body) });
    expect(await res.json()).toEqual({ status: 'reopened' });
    expect(await row('Raise the payments client timeout')).toMatchObject({ status: 'open', closed_by: null });
    // A captured close (valid signature, older updated_at) sent again, under a fresh delivery id.
    const old = issuesEvent('closed', 42, 'closed');
    expect(await (await deliver(old, { 'x-hub-signature-256': sign(old) })).json()).toEqual({ status: 'unchanged' });
    expect((await row('Raise the payments client timeout')).status).toBe('open');
  });

  it('the poll closes a follow-up whose issue was closed without a webhook', async () => {
    gh().get('/repos/acme/api/issues/42').reply(200, ghIssue(42, 'x'));
    gh().get('/repos/acme/api/issues/43').reply(200, ghIssue(43, 'x', 'closed'));
    gh().get('/repos/acme/api/issues/45').reply(503, {});
    expect(await t.app.services.followups.poll()).toMatchObject({ closed: 1, errors: 1 });
    expect(await row('Add a payments latency SLO')).toMatchObject({ status: 'done', closed_by: 'tracker' });
    expect((await row('Document the payments failover')).status).toBe('open');
  });

  it('the regenerated post-mortem shows live status and the tracker links', async () => {
    await t.slash('/incident postmortem', { channel });
    await t.settle();
    const md = (await t.db.pool.query('SELECT markdown FROM postmortems WHERE incident_id = $1 ORDER BY version DESC LIMIT 1', [id])).rows[0].markdown as string;
    expect(md).toMatch(/\| F-\d+: Raise the payments client timeout \| @bob \| 2026-03-20 \| open \| \[acme\/api#42\]\(https:\/\/github.com\/acme\/api\/issues\/42\) \|/);
    expect(md).toMatch(/\| F-\d+: Add a payments latency SLO \| @bob \| set a date \| done \| \[acme\/api#43\]/);
  });
});

describe('configuration', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fb-fu-'));
  const problems = (yaml: string, env: Record<string, string> = {}): string[] => {
    const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, yaml);
    try {
      loadConfig({ FIREBREAK_CONFIG: file, ...env });
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map((p) => `${p.key}: ${p.message}`);
      throw e;
    }
  };

  it('a tracker without what it needs is an error naming each missing piece', () => {
    expect(problems('followups:\n  tracker: github\n  github:\n    owner: acme\n')).toEqual([
      expect.stringMatching(/^followups\.github\.repo: is required when followups.tracker is github/),
      expect.stringMatching(/^followups\.github\.token: .*GITHUB_TOKEN/),
    ]);
    expect(problems('followups:\n  tracker: jira\n  jira:\n    site: https://acme.atlassian.net\n', { JIRA_API_TOKEN: 'x' })).toEqual([
      expect.stringMatching(/^followups\.jira\.email: is required/),
      expect.stringMatching(/^followups\.jira\.projectKey: is required/),
    ]);
    expect(problems('followups:\n  tracker: github\n  github:\n    owner: acme\n    repo: api\n', { GITHUB_TOKEN: 'ghp_x' })).toEqual([]);
    expect(problems('followups:\n  github:\n    token: ghp_in_the_file\n')).toEqual([expect.stringContaining('GITHUB_TOKEN')]);
  });

  it('polls every few minutes or whole hours, once per slot through the scheduler', () => {
    expect([pollCron(15), pollCron(1), pollCron(60), pollCron(180), pollCron(1440)]).toEqual(['*/15 * * * *', '*/1 * * * *', '0 */1 * * *', '0 */3 * * *', '0 0 * * *']);
    expect(problems('followups:\n  pollMinutes: 90\n')).toEqual([expect.stringContaining('whole hours')]);
  });
});
