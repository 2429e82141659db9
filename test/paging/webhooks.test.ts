import { beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { accepted, fakeEvents, incidentByTitle, isolateNetwork, pageRows, postWebhook, releaseAfterTests, signature, webhookBody } from './support.js';

const OLD_SECRET = 'whsec-old-0000000000000000';
const NEW_SECRET = 'whsec-new-1111111111111111';
const DECLARED = new Date('2026-03-01T10:00:00Z');

let t: TestApp;
let inc: Awaited<ReturnType<typeof incidentByTitle>>;
let dedupKey: string;

beforeAll(async () => {
  isolateNetwork();
  t = await startTestApp({
    clock: new FakeClock(DECLARED),
    config: { paging: { routingKey: 'R0WEBHOOKS0000000000000000000001', webhookSecrets: [OLD_SECRET, NEW_SECRET] } },
  });
  fakeEvents([accepted()]);
  await t.slash('/incident declare P1 Replica lag');
  await t.settle();
  inc = await incidentByTitle(t, 'Replica lag');
  dedupKey = `firebreak-incident-${inc.id}-default`;
  expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'triggered' });
});
releaseAfterTests(() => t);

const PD_ID = 'PGR0VU2';
const incidentData = (extra: Record<string, unknown> = {}) => ({
  id: PD_ID, type: 'incident', html_url: `https://acme.pagerduty.com/incidents/${PD_ID}`, number: 2, status: 'triggered',
  incident_key: dedupKey, title: 'Replica lag', assignees: [{ summary: 'Dana Oncall', type: 'user_reference' }], ...extra,
});

async function deliver(body: string, opts: { secrets?: string[]; webhookId?: string; signatureHeader?: string } = {}) {
  const header = opts.signatureHeader ?? (opts.secrets ?? [NEW_SECRET]).map((s) => signature(s, body)).join(',');
  const res = await postWebhook(t, body, { 'x-pagerduty-signature': header, 'x-webhook-id': opts.webhookId ?? `wh-${Math.random()}` });
  await t.settle();
  return res;
}

const channelTexts = () => t.slack.messagesIn(inc.channel_id).map((m) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`);
const incidentRow = async () => (await t.db.pool.query('SELECT * FROM incidents WHERE id = $1', [inc.id])).rows[0];
const eventsOfType = async (type: string) => (await t.db.pool.query('SELECT * FROM events WHERE incident_id = $1 AND type = $2 ORDER BY id', [inc.id, type])).rows;

describe('signatures', () => {
  it('refuses a missing or wrong signature with 401 and changes nothing', async () => {
    const body = webhookBody('incident.acknowledged', incidentData(), { agent: 'Mallory' });
    expect((await postWebhook(t, body, {})).status).toBe(401);
    expect((await deliver(body, { secrets: ['not-our-secret'] })).status).toBe(401);
    // Signed over other bytes: a body edited in transit.
    expect((await deliver(body, { signatureHeader: signature(NEW_SECRET, body + ' ') })).status).toBe(401);
    expect((await incidentRow()).acknowledged_at).toBeNull();
  });

  it('accepts during rotation: several v1 signatures, any one matching a secret we hold', async () => {
    const body = webhookBody('incident.triggered', incidentData());
    const rotated = `${signature('brand-new-secret-we-lack', body)},${signature(OLD_SECRET, body)}`;
    expect((await deliver(body, { signatureHeader: rotated })).status).toBe(202);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ pd_incident_id: PD_ID, pd_incident_url: `https://acme.pagerduty.com/incidents/${PD_ID}` });
  });

  it('answers 400 to a signed body that is not JSON', async () => {
    expect((await deliver('not json')).status).toBe(400);
  });
});

describe('acknowledgements', () => {
  it('sets the acknowledged time from PagerDuty, posts who acknowledged with the MTTA, and ignores a duplicate delivery', async () => {
    const ackAt = new Date(DECLARED.getTime() + 4 * 60_000 + 30_000);
    const body = webhookBody('incident.acknowledged', incidentData({ status: 'acknowledged' }), { agent: 'Dana Oncall', at: ackAt, id: 'EVT-ACK-1' });
    // Delivered later than it happened: MTTA must use occurred_at, not the arrival time.
    t.clock.set(new Date(ackAt.getTime() + 90_000));
    const first = await deliver(body, { webhookId: 'wh-ack-1' });
    expect(first.status).toBe(202);
    const again = await deliver(body, { webhookId: 'wh-ack-1' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'duplicate' });

    const row = await incidentRow();
    expect((row.acknowledged_at as Date).toISOString()).toBe(ackAt.toISOString());
    const acks = channelTexts().filter((m) => m.includes('acknowledged the page'));
    expect(acks).toHaveLength(1);
    expect(acks[0]).toContain('Dana Oncall');
    expect(acks[0]).toContain('time to acknowledge 4m 30s');
    const recorded = await eventsOfType('incident.acknowledged');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ actor: 'pagerduty:Dana Oncall', payload: { source: 'pagerduty' } });
    // The incident's own metrics read the same acknowledged time.
    const { responseId } = await t.slash('/incident timeline', { channel: inc.channel_id });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toContain('MTTA 4m 30s');
  });

  it('a later acknowledgement (after an escalation) does not move the MTTA', async () => {
    const before = (await incidentRow()).acknowledged_at as Date;
    const body = webhookBody('incident.acknowledged', incidentData(), { agent: 'Eve Secondary', at: new Date(DECLARED.getTime() + 20 * 60_000) });
    expect((await deliver(body)).status).toBe(202);
    expect(((await incidentRow()).acknowledged_at as Date).toISOString()).toBe(before.toISOString());
    const latest = channelTexts().filter((m) => m.includes('Eve Secondary'));
    expect(latest).toHaveLength(1);
    expect(latest[0]).not.toContain('time to acknowledge');
  });
});

describe('timeline events', () => {
  it('records escalations, notes and PagerDuty-side resolves on the timeline', async () => {
    await deliver(webhookBody('incident.escalated', incidentData({ assignees: [{ summary: 'Frank Manager' }] }), { agent: 'PagerDuty' }));
    const noteData = { type: 'incident_note', id: 'PNOTE1', content: 'Failing over to replica 2', trimmed: false, incident: { id: PD_ID, type: 'incident_reference', html_url: `https://acme.pagerduty.com/incidents/${PD_ID}` } };
    await deliver(webhookBody('incident.annotated', noteData, { agent: 'Dana Oncall' }));
    await deliver(webhookBody('incident.resolved', incidentData({ status: 'resolved' }), { agent: 'Dana Oncall' }));

    const escalated = await eventsOfType('pagerduty.escalated');
    expect(escalated).toHaveLength(1);
    expect(escalated[0].payload).toMatchObject({ assignees: ['Frank Manager'], pdIncidentId: PD_ID, text: 'PagerDuty escalated the page to Frank Manager' });
    const notes = await eventsOfType('pagerduty.annotated');
    expect(notes[0].payload).toMatchObject({ note: 'Failing over to replica 2', text: 'PagerDuty note by Dana Oncall: Failing over to replica 2' });
    const resolved = await eventsOfType('pagerduty.resolved');
    expect(resolved).toHaveLength(1);
    expect((await pageRows(t, inc.id))[0]).toMatchObject({ status: 'resolved' });

    const texts = channelTexts();
    expect(texts.some((m) => m.includes('now with *Frank Manager*'))).toBe(true);
    expect(texts.some((m) => m.includes('Failing over to replica 2'))).toBe(true);
    expect(texts.some((m) => m.includes('This incident stays open'))).toBe(true);
  });

  it('accepts and ignores unknown event types and incidents Firebreak did not page', async () => {
    const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n;
    const unknown = await deliver(webhookBody('incident.workflow.started', { id: 'PWF1', type: 'incident_workflow_instance' }));
    expect(unknown.status).toBe(202);
    const foreign = await deliver(webhookBody('incident.acknowledged', { ...incidentData(), id: 'POTHER9', incident_key: 'someone-else' }, { agent: 'X' }));
    expect(foreign.status).toBe(202);
    const ping = await deliver(JSON.stringify({ ping: true }));
    expect(ping.status).toBe(200);
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(before);
  });
});

describe('re-runs', () => {
  it('a webhook job re-run after its replica died records its event and tells the channel once', async () => {
    await deliver(webhookBody('incident.escalated', incidentData({ assignees: [{ summary: 'Grace Lead' }] }), { agent: 'PagerDuty' }), { webhookId: 'wh-rerun' });
    // The replica wrote the event, then died before marking the job done: another replica runs it again.
    const due = new Date(t.clock.now().getTime() - 1000);
    const rearmed = await t.db.pool.query(`UPDATE jobs SET status = 'pending', run_at = $1, locked_by = NULL WHERE dedupe_key = 'paging:webhook:wh-rerun'`, [due]);
    expect(rearmed.rowCount).toBe(1);
    await t.app.ctx.jobs.tick();
    await t.settle();
    const escalated = (await eventsOfType('pagerduty.escalated')).filter((e) => (e.payload.assignees as string[]).includes('Grace Lead'));
    expect(escalated).toHaveLength(1);
    expect(channelTexts().filter((m) => m.includes('Grace Lead'))).toHaveLength(1);
  });
});
