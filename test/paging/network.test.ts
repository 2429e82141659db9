import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { EVENTS, incidentByTitle, isolateNetwork, pageRows, pagingOf } from './support.js';

let t: TestApp;
beforeAll(async () => {
  isolateNetwork();
  t = await startTestApp({
    config: { paging: { routingKey: 'R0NETWORK000000000000000000000001', delivery: { attempts: 2, timeoutSeconds: 0.3, rateLimitPauseSeconds: 0 } } },
  });
  pagingOf(t).sleep = async () => {};
});
afterEach(() => {
  nock.cleanAll();
  t.config.paging.eventsHost = 'events.pagerduty.com';
});
afterAll(async () => {
  await t.stop();
  nock.enableNetConnect();
});

async function declare(title: string) {
  await t.slash(`/incident declare P1 ${title}`);
  await t.settle();
  return incidentByTitle(t, title);
}

describe('PagerDuty unreachable', () => {
  it('abandons a call that hangs past the per-call timeout, retries, then says paging is delayed and keeps the page for a later run', async () => {
    let calls = 0;
    nock(EVENTS).post('/v2/enqueue').times(2).delay(5000).reply(() => (calls++, [202, { status: 'success' }]));
    const inc = await declare('Hung PagerDuty');
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'pending', attempts: 2, last_error: 'PagerDuty did not answer in time' });
    expect(t.slack.messagesIn(inc.channel_id).some((m) => m.text.includes('is delayed') && m.text.includes('did not answer in time'))).toBe(true);
    expect(calls).toBeLessThanOrEqual(2);
  });

  it('treats a refused connection as retryable and tells the channel', async () => {
    // A closed local port: pdjs (node-fetch 2) never settles nock's replyWithError.
    t.config.paging.eventsHost = '127.0.0.1:1';
    const inc = await declare('No route to PagerDuty');
    const [page] = await pageRows(t, inc.id);
    // Retryable: the page waits for a later run instead of being given up.
    expect(page).toMatchObject({ status: 'pending', attempts: 2 });
    expect(String(page!.last_error)).toMatch(/^cannot reach PagerDuty: .*ECONNREFUSED/);
    expect(t.slack.messagesIn(inc.channel_id).some((m) => m.text.includes('is delayed') && m.text.includes('ECONNREFUSED'))).toBe(true);
  });

  it('treats a non-JSON 502 from a proxy as retryable', async () => {
    nock(EVENTS).post('/v2/enqueue').reply(502, '<html>Bad gateway</html>').post('/v2/enqueue').reply(202, { status: 'success' });
    const inc = await declare('Proxy hiccup');
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered', attempts: 2 });
  });
});
