import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { RETRY_PAGING_ACTION } from '../../src/templates/paging.js';
import { accepted, eventTypes, fakeEvents, incidentByTitle, isolateNetwork, pageRows, pagingOf } from './support.js';

const DEFAULT_KEY = 'R0DEFAULT00000000000000000000001';
const PAYMENTS_KEY = 'R0PAYMENTS0000000000000000000002';

let t: TestApp;
let waits: number[] = [];

beforeAll(async () => {
  isolateNetwork();
  process.env.PAGERDUTY_ROUTING_KEY_PAYMENTS = PAYMENTS_KEY;
  t = await startTestApp({
    clock: new FakeClock('2026-03-01T10:00:00Z'),
    config: {
      paging: {
        routingKey: DEFAULT_KEY,
        services: { payments: { description: 'Payments API' }, search: {} },
        delivery: { attempts: 3, backoffSeconds: 1, maxBackoffSeconds: 4, maxRetryAfterSeconds: 30, rateLimitPauseSeconds: 0, timeoutSeconds: 5 },
      },
    },
  });
  // Record the backoff instead of sleeping it: the policy is asserted, the test stays fast.
  pagingOf(t).sleep = async (ms) => void waits.push(ms);
});
afterEach(() => {
  nock.cleanAll();
  waits = [];
});
afterAll(async () => {
  delete process.env.PAGERDUTY_ROUTING_KEY_PAYMENTS;
  await t.stop();
  nock.enableNetConnect();
});

async function declare(severity: string, title: string) {
  await t.slash(`/incident declare ${severity} ${title}`);
  await t.settle();
  return incidentByTitle(t, title);
}

/** Runs an /incident subcommand in the incident's channel, as its declarer, and waits for its effects. */
async function inChannel(inc: { channel_id: string }, line: string) {
  const r = await t.slash(`/incident ${line}`, { channel: inc.channel_id });
  await t.settle();
  return t.slack.replies(r.responseId).join('\n');
}

const resolveIncident = (inc: { channel_id: string }) => inChannel(inc, 'resolve Fixed');

const texts = (channel: string) => t.slack.messagesIn(channel).map((m) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`);

describe('page on declare', () => {
  it('sends the exact trigger for a P1 and tells the channel', async () => {
    const pd = fakeEvents([accepted()]);
    const inc = await declare('P1', 'Database down');
    expect(pd.scope.isDone()).toBe(true);
    expect(pd.bodies).toEqual([
      {
        routing_key: DEFAULT_KEY,
        event_action: 'trigger',
        dedup_key: `firebreak-incident-${inc.id}-default`,
        payload: {
          summary: `[P1] INC-${inc.id}: Database down`,
          source: 'firebreak',
          severity: 'critical',
          timestamp: '2026-03-01T10:00:00.000Z',
          group: 'default',
          class: 'incident',
          custom_details: {
            incident_id: inc.id,
            severity: 'P1',
            title: 'Database down',
            status: inc.status,
            slack_channel: `#${inc.channel_name}`,
            commander: 'U0ALICE',
            declared_by: 'U0ALICE',
            declared_at: '2026-03-01T10:00:00.000Z',
            paged_because: 'declared P1',
            requested_by: 'U0ALICE',
          },
        },
        links: [{ href: `https://slack.com/app_redirect?channel=${inc.channel_id}`, text: `Slack: #${inc.channel_name}` }],
      },
    ]);
    const [page] = await pageRows(t, inc.id);
    expect(page).toMatchObject({ service: 'default', status: 'triggered', attempts: 1, routing_key_env: 'PAGERDUTY_ROUTING_KEY' });
    expect(texts(inc.channel_id).some((m) => m.includes('Paged *default* on PagerDuty (P1 → critical)'))).toBe(true);
    expect(await eventTypes(t, inc.id)).toContain('incident.paged');
    // The routing key is a secret: the event log names its variable, never the key.
    const { rows } = await t.db.pool.query('SELECT payload::text AS p FROM events WHERE incident_id = $1', [inc.id]);
    expect(rows.map((r) => r.p).join()).not.toContain(DEFAULT_KEY);
  });

  it('maps severities: P2 pages as error; P3 and P4 do not page by default', async () => {
    const pd = fakeEvents([accepted()]);
    const p2 = await declare('P2', 'Checkout degraded');
    expect((pd.bodies[0]!.payload as { severity: string }).severity).toBe('error');
    const p3 = await declare('P3', 'Typo on status page');
    expect(await pageRows(t, p3.id)).toEqual([]);
    expect(await pageRows(t, p2.id)).toHaveLength(1);
  });

  it('pages the incident’s own service when it has a routing key', async () => {
    const pd = fakeEvents([accepted()]);
    await t.submitView('incident.declare', { title: 'Card payments failing', severity: 'P1', service: 'payments' }, { selectBlocks: ['severity'] });
    await t.settle();
    const inc = await incidentByTitle(t, 'Card payments failing');
    expect(pd.bodies[0]).toMatchObject({ routing_key: PAYMENTS_KEY, dedup_key: `firebreak-incident-${inc.id}-payments`, payload: { component: 'payments', group: 'payments' } });
  });

  it('cuts a long summary to 1,024 characters', async () => {
    const pd = fakeEvents([accepted()]);
    const title = 'Z'.repeat(199);
    const inc = await declare('P0', title);
    const summary = (pd.bodies[0]!.payload as { summary: string }).summary;
    expect(summary.startsWith(`[P0] INC-${inc.id}: ZZZ`)).toBe(true);
    expect(summary.length).toBeLessThanOrEqual(1024);
  });
});

describe('PagerDuty says no', () => {
  it('429 then success: one alert, the same body both times', async () => {
    const pd = fakeEvents([{ status: 429, body: { status: 'throttle event', message: 'Requests for this service are arriving too quickly' } }, accepted()]);
    const inc = await declare('P1', 'Rate limited page');
    expect(pd.bodies).toHaveLength(2);
    expect(pd.bodies[1]).toEqual(pd.bodies[0]);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered' });
  });

  it('honours Retry-After once PagerDuty keeps throttling, and keeps the dedup key', async () => {
    // pdjs re-sends a 429 three times by itself; after that our retry loop waits Retry-After.
    const throttled = { status: 429, body: { status: 'throttle event' }, headers: { 'Retry-After': '7' } };
    const pd = fakeEvents([throttled, throttled, throttled, throttled, accepted()]);
    const inc = await declare('P1', 'Throttled hard');
    expect(waits).toEqual([7000]);
    expect(pd.bodies).toHaveLength(5);
    expect(new Set(pd.bodies.map((b) => b.dedup_key))).toEqual(new Set([`firebreak-incident-${inc.id}-default`]));
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered', attempts: 2 });
  });

  it('a page whose attempts all fail (a PagerDuty outage, a fault storm) stays pending and a later run delivers it', async () => {
    // Found by bench/chaos: a page was given up after one run's attempts (seconds of faults) and
    // on-call was never paged.
    const pd = fakeEvents([...[500, 500, 500].map((status) => ({ status, body: { status: 'error', message: 'internal error' } })), accepted()]);
    const inc = await declare('P1', 'PagerDuty blips');
    expect(pd.bodies).toHaveLength(3);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'pending', attempts: 3 });
    const delayed = texts(inc.channel_id).filter((x) => x.startsWith('Paging default is delayed'));
    expect(delayed).toHaveLength(1);
    expect(delayed[0]).toContain('keeps trying in the background');
    expect(texts(inc.channel_id).some((x) => x.startsWith('Paging default failed'))).toBe(false);

    t.clock.advance(30_000); // the queue runs the job again after 30 s
    await t.settle();
    expect(pd.bodies).toHaveLength(4);
    expect(new Set(pd.bodies.map((b) => b.dedup_key)).size).toBe(1);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered' });
    expect(texts(inc.channel_id).some((x) => x.startsWith('Paged default on PagerDuty'))).toBe(true);
    expect(texts(inc.channel_id).filter((x) => x.startsWith('Paging default is delayed'))).toHaveLength(1);
  });

  it('500 forever: bounded attempts and runs, the channel is told, the event is recorded, Retry paging works', async () => {
    const runs = 8;
    const pd = fakeEvents(Array.from({ length: 3 * runs }, () => ({ status: 500, body: { status: 'error', message: 'internal error' } })));
    const inc = await declare('P1', 'PagerDuty is down too');
    expect(pd.bodies).toHaveLength(3);
    expect(waits.slice(0, 2)).toEqual([1000, 2000]);
    for (let run = 2; run <= runs; run++) {
      t.clock.advance(30_000 * 2 ** (run - 2));
      await t.settle();
      expect(pd.bodies).toHaveLength(3 * run);
    }
    const [page] = await pageRows(t, inc.id);
    expect(page).toMatchObject({ status: 'failed', attempts: 3 * runs, last_error: 'PagerDuty answered 500: internal error' });
    expect(texts(inc.channel_id).filter((x) => x.startsWith('Paging default is delayed'))).toHaveLength(1);
    const failure = t.slack.messagesIn(inc.channel_id).find((m) => m.text.startsWith('Paging default failed'))!;
    expect(failure.text).toContain('PagerDuty answered 500');
    expect(JSON.stringify(failure.blocks)).toContain(RETRY_PAGING_ACTION);
    const recorded = (await t.db.pool.query("SELECT payload FROM events WHERE incident_id = $1 AND type = 'incident.page_failed'", [inc.id])).rows;
    expect(recorded).toHaveLength(1);
    expect(recorded[0].payload).toMatchObject({ service: 'default', attempts: 3, status: 500, error: 'PagerDuty answered 500: internal error' });

    // The declare itself was never held up: the incident and its channel exist regardless.
    expect(inc.channel_id).toBeTruthy();

    const retry = fakeEvents([accepted()]);
    const { responseId } = await t.click(RETRY_PAGING_ACTION, `${inc.id}:default`, { user: 'U0BOB', channel: inc.channel_id, messageTs: failure.ts });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toContain('Paging *default*');
    expect(retry.bodies).toHaveLength(1);
    expect(retry.bodies[0]).toEqual(pd.bodies[0]);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered' });
    // The failure message becomes the success notice, so its button cannot be clicked again.
    const updated = t.slack.messagesIn(inc.channel_id).find((m) => m.ts === failure.ts)!;
    expect(updated.text).toBe('Paged default on PagerDuty');
    expect(JSON.stringify(updated.blocks)).not.toContain(RETRY_PAGING_ACTION);
    expect(JSON.stringify(updated.blocks)).toContain('Retried by <@U0BOB>');
  });

  it('a 400 is not retried and says why', async () => {
    const pd = fakeEvents([{ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] } }]);
    const inc = await declare('P1', 'Bad routing key');
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'failed', last_error: 'PagerDuty answered 400: Event object is invalid; Invalid routing key' });
  });

  it('a retry whose failure message is gone posts its outcome instead', async () => {
    // A refused page (400) fails at once; a 5xx would go on being retried in the background.
    fakeEvents([{ status: 400, body: { status: 'invalid event', message: 'boom' } }]);
    const inc = await declare('P1', 'Deleted failure message');
    fakeEvents([accepted()]);
    await t.click(RETRY_PAGING_ACTION, `${inc.id}:default`, { user: 'U0BOB', channel: inc.channel_id, messageTs: '1.000000' });
    await t.settle();
    expect(texts(inc.channel_id).some((m) => m.includes('Retried by <@U0BOB>'))).toBe(true);
  });

  it('a second click while a retry is in flight does not page twice', async () => {
    const pd = fakeEvents([{ status: 400, body: { status: 'invalid event', message: 'boom' } }]);
    const inc = await declare('P1', 'Double retry');
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'failed' });
    const retry = fakeEvents([accepted()]);
    const a = await t.click(RETRY_PAGING_ACTION, `${inc.id}:default`, { channel: inc.channel_id });
    const b = await t.click(RETRY_PAGING_ACTION, `${inc.id}:default`, { user: 'U0BOB', channel: inc.channel_id });
    await t.settle();
    expect(retry.bodies).toHaveLength(1);
    // The two clicks are stored and run as jobs: either may be the one that claims the retry.
    const answers = [t.slack.replies(a.responseId).join(), t.slack.replies(b.responseId).join()];
    expect(answers.filter((x) => x.includes('is being paged right now'))).toHaveLength(1);
    expect(answers.filter((x) => x.startsWith('Paging *default*'))).toHaveLength(1);
  });
});

describe('/incident page and resolve', () => {
  it('pages another service from the incident channel and resolves every alert on resolve', async () => {
    const pd = fakeEvents([accepted(), accepted()]);
    const inc = await declare('P1', 'Ledger mismatch');
    const { responseId } = await t.slash('/incident page payments', { channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toContain('Paging *payments* for INC-');
    expect(pd.bodies.map((b) => [b.routing_key, b.dedup_key])).toEqual([
      [DEFAULT_KEY, `firebreak-incident-${inc.id}-default`],
      [PAYMENTS_KEY, `firebreak-incident-${inc.id}-payments`],
    ]);
    expect((pd.bodies[1]!.payload as { custom_details: Record<string, unknown> }).custom_details.paged_because).toBe('paged by hand');

    const again = await t.slash('/incident page payments', { channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(again.responseId).join()).toContain('still open');

    const resolves = fakeEvents([accepted(), accepted()]);
    await resolveIncident(inc);
    expect(resolves.bodies).toEqual([
      { routing_key: DEFAULT_KEY, event_action: 'resolve', dedup_key: `firebreak-incident-${inc.id}-default` },
      { routing_key: PAYMENTS_KEY, event_action: 'resolve', dedup_key: `firebreak-incident-${inc.id}-payments` },
    ]);
    expect((await pageRows(t, inc.id)).map((p) => p.status)).toEqual(['resolved', 'resolved']);
    expect((await eventTypes(t, inc.id)).filter((e) => e === 'incident.page_resolved')).toHaveLength(2);

    const late = await t.slash(`/incident page search ${inc.id}`);
    await t.settle();
    expect(t.slack.replies(late.responseId).join()).toContain('has no routing key');
    const resolved = await t.slash(`/incident page payments ${inc.id}`);
    await t.settle();
    expect(t.slack.replies(resolved.responseId).join()).toContain('is resolved');
  });

  it('a failed resolve is retried when the incident is resolved again, and the channel is told', async () => {
    fakeEvents([accepted()]);
    const inc = await declare('P1', 'Resolve fails');
    fakeEvents([500, 500, 500].map((status) => ({ status, body: { message: 'down' } })));
    await resolveIncident(inc);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'resolve_failed' });
    expect(texts(inc.channel_id).some((m) => m.includes('Could not resolve the PagerDuty alert'))).toBe(true);
    // Reopening a paging-severity incident pages again (same alert), and the next resolve closes it.
    const reopened = fakeEvents([accepted()]);
    await inChannel(inc, 'reopen still flapping');
    expect(reopened.bodies).toHaveLength(1);
    expect(reopened.bodies[0]).toMatchObject({ event_action: 'trigger', dedup_key: `firebreak-incident-${inc.id}-default`, payload: { custom_details: { paged_because: 'reopened at P1' } } });
    const second = fakeEvents([accepted()]);
    await resolveIncident(inc);
    expect(second.bodies).toEqual([{ routing_key: DEFAULT_KEY, event_action: 'resolve', dedup_key: `firebreak-incident-${inc.id}-default` }]);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'resolved' });
  });

  it('resolved before the page went out: the alert is triggered and then resolved, once each', async () => {
    const pd = fakeEvents([accepted(), accepted()]);
    await t.slash('/incident declare P1 Gone in a flash');
    // Let the war room open and the page be queued, but not delivered yet.
    await t.app.ctx.background.drain();
    const inc = await incidentByTitle(t, 'Gone in a flash');
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'pending' });
    await resolveIncident(inc);
    expect(pd.bodies.map((b) => b.event_action)).toEqual(['trigger', 'resolve']);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'resolved' });
  });

  it('a page left pending by a delivery that died can be claimed again after ten minutes', async () => {
    fakeEvents([accepted()]);
    const inc = await declare('P1', 'Stuck delivery');
    await t.db.pool.query("UPDATE pages SET status = 'pending', updated_at = $2 WHERE incident_id = $1", [inc.id, new Date(t.clock.now().getTime() - 5 * 60_000)]);
    expect(await inChannel(inc, 'page default')).toContain('is being paged right now');
    await t.db.pool.query('UPDATE pages SET updated_at = $2 WHERE incident_id = $1', [inc.id, new Date(t.clock.now().getTime() - 11 * 60_000)]);
    const pd = fakeEvents([accepted()]);
    expect(await inChannel(inc, 'page default')).toContain('Paging *default*');
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered' });
  });

  it('answers unknown services and stray channels clearly', async () => {
    const unknown = await t.slash('/incident page nosuch 1');
    const nowhere = await t.slash('/incident page payments', { channel: 'C0GENERAL' });
    const bare = await t.slash('/incident page');
    await t.settle();
    expect(t.slack.replies(unknown.responseId).join()).toContain("I don't know the service `nosuch`");
    expect(t.slack.replies(nowhere.responseId).join()).toContain("Run this in the incident's channel");
    expect(t.slack.replies(bare.responseId).join()).toContain('`default`, `payments`');
  });

  it('lists page and oncall in /incident help', async () => {
    const { responseId } = await t.slash('/incident help');
    await t.settle();
    const help = t.slack.replies(responseId).join();
    expect(help).toContain('/incident page &lt;service&gt; [incident-id]');
    expect(help).toContain('/incident oncall [service]');
  });
});

describe('severity changes', () => {
  it('raising to a paging severity pages; lowering or raising again does not page twice', async () => {
    const inc = await declare('P3', 'Slow search');
    expect(await pageRows(t, inc.id)).toEqual([]);
    const pd = fakeEvents([accepted()]);
    await inChannel(inc, 'severity P2');
    expect(pd.bodies).toHaveLength(1);
    expect(pd.bodies[0]).toMatchObject({ payload: { severity: 'error', custom_details: { severity: 'P2', paged_because: 'severity raised P3 → P2' } } });
    await inChannel(inc, 'severity P3');
    await inChannel(inc, 'severity P1');
    expect(pd.bodies).toHaveLength(1);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered' });
  });
});
