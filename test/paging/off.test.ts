import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { incidentByTitle, isolateNetwork, pageRows, postWebhook, signature, webhookBody } from './support.js';

let t: TestApp;
beforeAll(async () => {
  // Any request to PagerDuty would fail the declare loudly: none may be made.
  isolateNetwork();
  t = await startTestApp();
});
afterAll(async () => {
  await t.stop();
  nock.enableNetConnect();
});

describe('without PagerDuty configured', () => {
  it('declares normally, pages nobody, and the headline says paging is off', async () => {
    const { responseId } = await t.slash('/incident declare P0 Everything is down');
    await t.settle();
    const inc = await incidentByTitle(t, 'Everything is down');
    expect(t.slack.replies(responseId).join()).toContain(`INC-${inc.id} declared`);
    expect(await pageRows(t, inc.id)).toEqual([]);
    const headline = t.slack.messagesIn(inc.channel_id)[0]!;
    expect(JSON.stringify(headline.blocks)).toContain('Paging: off (no PagerDuty key configured)');
  });

  it('tells people why /incident page cannot page', async () => {
    const inc = await incidentByTitle(t, 'Everything is down');
    const { responseId } = await t.slash('/incident page default', { channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toContain('Paging is off');
    expect(t.slack.replies(responseId).join()).toContain('PAGERDUTY_ROUTING_KEY');
  });

  it('refuses webhooks when no signing secret is configured', async () => {
    const body = webhookBody('incident.acknowledged', { id: 'P1', type: 'incident' });
    const res = await postWebhook(t, body, { 'x-pagerduty-signature': signature('anything', body) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toContain('PAGERDUTY_WEBHOOK_SECRETS');
  });
});
