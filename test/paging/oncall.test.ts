import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { API, isolateNetwork, releaseAfterTests } from './support.js';

const TOKEN = 'u+pdtesttoken000000';
let t: TestApp;

beforeAll(async () => {
  isolateNetwork();
  t = await startTestApp({
    config: {
      paging: {
        routingKey: 'R0ONCALL000000000000000000000001',
        apiToken: TOKEN,
        defaultEscalationPolicyId: 'PDEF001',
        services: { payments: { escalationPolicyId: 'PPAY001' }, search: {} },
      },
    },
  });
});
releaseAfterTests(() => t);

const oncall = (user: string, level: number, policy = 'Payments', end: string | null = '2026-03-02T09:00:00Z') => ({
  user: { id: `P${user.toUpperCase()}`, summary: user, html_url: `https://acme.pagerduty.com/users/P${user.toUpperCase()}` },
  escalation_policy: { id: 'PPAY001', summary: policy },
  escalation_level: level,
  schedule: end ? { id: 'PSCHED', summary: 'Primary rotation' } : null,
  start: '2026-03-01T09:00:00Z',
  end,
});

async function ask(line: string): Promise<string> {
  const { responseId } = await t.slash(line);
  await t.settle();
  return t.slack.replies(responseId).join('\n');
}

describe('/incident oncall', () => {
  it('follows PagerDuty’s pagination to the last page, advancing by the limit the server used', async () => {
    const seen: Record<string, unknown>[] = [];
    nock(API, { reqheaders: { authorization: `Token token=${TOKEN}` } })
      .get('/oncalls')
      .query((q) => (seen.push(q), q.offset === '0'))
      .reply(200, { oncalls: [oncall('Ada', 1), oncall('Bo', 2)], limit: 2, offset: 0, more: true, total: null })
      .get('/oncalls')
      .query((q) => (seen.push(q), q.offset === '2'))
      .reply(200, { oncalls: [oncall('Cy', 3, 'Payments', null)], limit: 2, offset: 2, more: false, total: null });
    const reply = await ask('/incident oncall payments');
    expect(nock.isDone()).toBe(true);
    expect(seen.filter((q) => q.offset === '2')[0]).toMatchObject({ 'escalation_policy_ids[]': 'PPAY001', earliest: 'true', limit: '100' });
    expect(reply).toContain('On call now for payments');
    expect(reply).toContain('L1 <https://acme.pagerduty.com/users/PADA|Ada> (Primary rotation) — until 2026-03-02 09:00 UTC');
    expect(reply).toContain('L2 <https://acme.pagerduty.com/users/PBO|Bo>');
    expect(reply).toContain('L3 <https://acme.pagerduty.com/users/PCY|Cy> — always on call');
  });

  it('uses the default escalation policy without a service', async () => {
    nock(API).get('/oncalls').query((q) => q['escalation_policy_ids[]'] === 'PDEF001').reply(200, { oncalls: [oncall('Dee', 1, 'Default')], limit: 100, offset: 0, more: false });
    expect(await ask('/incident oncall')).toContain('*Default*');
  });

  it('explains PagerDuty errors and config gaps instead of failing silently', async () => {
    nock(API).get('/oncalls').query(true).reply(401, { error: { message: 'Unauthorized', code: 2006 } });
    expect(await ask('/incident oncall')).toContain('PagerDuty answered 401: Unauthorized. Check PAGERDUTY_API_TOKEN.');
    expect(await ask('/incident oncall nosuch')).toContain("I don't know the service `nosuch`");
    expect(await ask('/incident oncall search')).toContain('has no `escalationPolicyId`');
    nock(API).get('/oncalls').query(true).reply(200, { oncalls: [], limit: 100, offset: 0, more: false });
    expect(await ask('/incident oncall payments')).toContain('Nobody is on call for payments');
  });
});
