import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { EVENTS, accepted, fakeEvents, incidentByTitle, isolateNetwork, pageRows, postWebhook, signature, webhookBody } from './support.js';

const SECRET = 'whsec-replicas-000000000000';
const config = { paging: { routingKey: 'R0REPLICAS0000000000000000000001', webhookSecrets: [SECRET] } };
const clock = new FakeClock('2026-03-01T10:00:00Z');

let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  isolateNetwork();
  a = await startTestApp({ config, clock });
  b = await startTestApp({ config, clock, shared: { db: a.db, slack: a.slack } });
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await b.stop();
  await a.stop();
  nock.enableNetConnect();
});

describe('two replicas', () => {
  it('both running jobs: the page goes out once', async () => {
    const pd = fakeEvents([accepted(), accepted()]);
    await b.slash('/incident declare P1 Both replicas awake');
    await b.app.ctx.background.drain();
    await Promise.all([a.settle(), b.settle()]);
    const inc = await incidentByTitle(a, 'Both replicas awake');
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(a, inc.id))[0]).toMatchObject({ status: 'triggered', attempts: 1 });
    expect(a.slack.messagesIn(inc.channel_id).filter((m) => m.text === 'Paged default on PagerDuty')).toHaveLength(1);
  });

  it('a webhook re-delivered to the other replica is handled once', async () => {
    const inc = await incidentByTitle(a, 'Both replicas awake');
    const body = webhookBody('incident.acknowledged', { id: 'PREP1', type: 'incident', incident_key: `firebreak-incident-${inc.id}-default` }, { agent: 'Gil' });
    const headers = { 'x-pagerduty-signature': signature(SECRET, body), 'x-webhook-id': 'wh-replicas-1' };
    const [ra, rb] = await Promise.all([postWebhook(a, body, headers), postWebhook(b, body, headers)]);
    expect([ra.status, rb.status].sort()).toEqual([200, 202]);
    await Promise.all([a.settle(), b.settle()]);
    expect(a.slack.messagesIn(inc.channel_id).filter((m) => m.text === 'Gil acknowledged the page')).toHaveLength(1);
  });

  it('a page queued by a replica that stops before delivering is delivered by the other', async () => {
    const pd = fakeEvents([accepted()]);
    await b.slash('/incident declare P1 Replica went away');
    await b.app.ctx.background.drain();
    const inc = await incidentByTitle(a, 'Replica went away');
    expect((await pageRows(a, inc.id))[0]).toMatchObject({ status: 'pending' });
    await b.app.stop();
    expect(pd.bodies).toHaveLength(0);
    await a.settle();
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(a, inc.id))[0]).toMatchObject({ status: 'triggered' });
  });

  it('shutdown in the middle of a PagerDuty call: the page stays pending and another replica delivers it', async () => {
    const c = await startTestApp({ config, clock, shared: { db: a.db, slack: a.slack } });
    const hung = nock(EVENTS).post('/v2/enqueue').delay(10_000).reply(202, { status: 'success' });
    const inFlight = new Promise<void>((resolve) => hung.on('request', () => resolve()));
    await c.slash('/incident declare P1 Shutdown mid page');
    await c.app.ctx.background.drain();
    const delivering = c.app.ctx.jobs.tick();
    await inFlight;
    c.app.lifecycle.stopLongWork('test shutdown');
    await delivering;
    await c.stop();
    const inc = await incidentByTitle(a, 'Shutdown mid page');
    expect((await pageRows(a, inc.id))[0]).toMatchObject({ status: 'pending' });
    expect(a.slack.messagesIn(inc.channel_id).some((m) => m.text.startsWith('Paging default failed'))).toBe(false);
    nock.cleanAll();
    const pd = fakeEvents([accepted()]);
    clock.advance(60_000); // the queue retries a failed job after 30 s
    await a.settle();
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(a, inc.id))[0]).toMatchObject({ status: 'triggered' });
  });
});
