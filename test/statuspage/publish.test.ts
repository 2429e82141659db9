/**
 * Publishing on the status page from Slack, through the change gate: the form is prefilled
 * from the customer template, nothing is public until someone other than the author approves,
 * unknown components are refused with a clear message, the publish lands in the event log,
 * the resolved notice is offered on resolve, and approved updates reach Atlassian Statuspage
 * (faked with nock on api.statuspage.io with its real payload shapes) without duplicates.
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';

const API = 'https://api.statuspage.io';
const PAGE = 'kctbh9vrtdwd';
const KEY = 'sp-test-key-0123456789';

interface ViewBlock { type: string; block_id: string; element: { initial_value?: string; initial_option?: { value: string } }; elements?: { action_id?: string; value?: string }[] }
interface View { callback_id: string; blocks: ViewBlock[] }
interface StatusDoc {
  status: string;
  components: { id: string; status: string }[];
  incidents: { id: number; status: string; resolvedAt: string | null; updates: { status: string; body: string }[] }[];
}

let t: TestApp;
let inc: { id: number; channel: string };

const json = async (path: string) => (await fetch(`${t.url}${path}`)).json() as Promise<StatusDoc>;
const remoteIncident = (id: string, updates: { id: string; status: string; body: string }[], name = 'Checkout errors') => ({
  id, name, status: updates.at(-1)?.status ?? 'investigating', impact: 'major', page_id: PAGE, shortlink: `https://stspg.io/${id}`,
  created_at: '2026-12-03T10:00:00.000Z', updated_at: '2026-12-03T10:00:00.000Z', metadata: { firebreak: { status_incident_id: '1' } },
  incident_updates: updates.map((u) => ({ ...u, incident_id: id, created_at: '2026-12-03T10:00:00.000Z', display_at: '2026-12-03T10:00:00.000Z', affected_components: [] })),
});

/** Opens the form with `/incident status-page` and returns its blocks' initial values. */
async function openForm(user = 'U0ALICE'): Promise<{ view: View; initial: Record<string, string> }> {
  const before = t.slack.views.length;
  await t.slash(`/incident status-page ${inc.id}`, { user, channel: inc.channel });
  await t.settle();
  expect(t.slack.views.length).toBe(before + 1);
  const view = t.slack.views.at(-1)!.view as unknown as View;
  return { view, initial: initialValues(view) };
}

function initialValues(view: View): Record<string, string> {
  const initial: Record<string, string> = {};
  for (const b of view.blocks) if (b.type === 'input') initial[b.block_id] = (b.element.initial_value ?? b.element.initial_option?.value)!;
  return initial;
}

async function submit(values: Record<string, string>, user = 'U0ALICE') {
  const res = await t.submitView('statuspage.publish', values, {
    user, privateMetadata: JSON.stringify({ incidentId: inc.id, channelId: inc.channel }),
    selectBlocks: Object.keys(values).filter((k) => k === 'status' || k.startsWith('component:')),
  });
  const text = await res.text();
  await t.settle();
  return text ? (JSON.parse(text) as { response_action?: string; errors: Record<string, string> }) : { errors: {} };
}

const lastChange = async () => (await t.db.pool.query(`SELECT id, status FROM change_requests WHERE kind = 'statuspage.publish' ORDER BY id DESC LIMIT 1`)).rows[0] as { id: number; status: string };

async function approve(user: string) {
  // The newest request's message: earlier ones (decided) no longer carry the button.
  const msg = [...t.slack.messagesIn('approvals')].reverse().find((m) => JSON.stringify(m.blocks ?? []).includes('"action_id":"change_approve"'));
  const button = (msg!.blocks as ViewBlock[]).flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'change_approve')!;
  const value = String(button.value);
  const out = await t.click('change_approve', value, { user, channel: t.slack.channel('approvals')!.id });
  await t.settle();
  await t.settle();
  return t.slack.replies(out.responseId).join('\n');
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  t = await startTestApp({
    config: {
      statusPage: {
        enabled: true, title: 'Acme status',
        components: [{ id: 'api', name: 'Public API', group: 'Core' }, { id: 'web', name: 'Web app', group: 'Core', description: 'app.acme.test' }, { id: 'billing', name: 'Billing' }],
        atlassian: { pageId: PAGE, apiKey: KEY, components: { api: 'cmpapi0001', web: 'cmpweb0001' } },
      },
    },
  });
  inc = await declareIncident(t, 'P1', 'db-primary-7 OOM in checkout');
}, 60_000);
afterEach(() => nock.cleanAll());
afterAll(async () => {
  nock.enableNetConnect();
  await t?.stop();
});

describe('publishing on the status page', () => {
  it('the customer draft carries a button that opens the same form', () => {
    const draft = t.slack.messagesIn(inc.channel).find((m) => m.text.startsWith('Customer / status page update draft'));
    expect(draft, 'customer draft').toBeTruthy();
    expect(JSON.stringify(draft!.blocks)).toContain('"action_id":"statuspage.open"');
  });

  it('/incident status-page opens a form prefilled from the customer template with every component', async () => {
    const { view, initial } = await openForm();
    expect(view.callback_id).toBe('statuspage.publish');
    expect(initial.body).toContain('We are aware of an issue affecting');
    expect(initial.status).toBe('investigating');
    expect(Object.keys(initial).filter((k) => k.startsWith('component:'))).toEqual(['component:api', 'component:web', 'component:billing']);
    expect(initial['component:api']).toBe('none');
  });

  it('refuses an unknown component with a clear message, and nothing is asked for', async () => {
    const errors = await submit({ title: 'Checkout errors', status: 'investigating', body: 'Some payments fail.', 'component:ghost': 'major_outage' });
    expect(errors.response_action).toBe('errors');
    expect(errors.errors['component:ghost']).toMatch(/no component "ghost"/);
    const out = await t.app.services.statusPage.requestPublish({ requestKey: 'k1', actor: 'U0ALICE', incidentId: inc.id, title: 'x', status: 'investigating', body: 'y', components: { ghost: 'degraded' } });
    expect(out).toMatchObject({ status: 'invalid', errors: { components: expect.stringContaining('Known components: api, web, billing') } });
    expect(await lastChange()).toBeUndefined();
  });

  it('nothing is public until someone other than the author approves; then exactly the approved text is', async () => {
    const errors = await submit({ title: 'Checkout errors', status: 'investigating', body: 'Some card payments fail. We are on it.', 'component:api': 'major_outage', 'component:web': 'degraded', 'component:billing': 'none' });
    expect(errors).toEqual({ errors: {} });
    const change = await lastChange();
    expect(change.status).toBe('pending');
    let page = await json('/status.json');
    expect(page.incidents).toEqual([]);
    expect(page.status).toBe('operational');

    expect(await approve('U0ALICE')).toMatch(/can't approve it/);
    expect((await lastChange()).status).toBe('pending');
    expect((await json('/status.json')).incidents).toEqual([]);

    const scope = nock(API, { reqheaders: { authorization: `OAuth ${KEY}` } })
      .get(`/v1/pages/${PAGE}/incidents`).query({ q: 'Checkout errors', limit: '100' }).reply(200, [])
      .post(`/v1/pages/${PAGE}/incidents`, (b) => {
        expect(b).toEqual({ incident: {
          name: 'Checkout errors', status: 'investigating', body: 'Some card payments fail. We are on it.',
          component_ids: ['cmpapi0001', 'cmpweb0001'], components: { cmpapi0001: 'major_outage', cmpweb0001: 'degraded_performance' },
          deliver_notifications: true, metadata: { firebreak: { status_incident_id: '1' } },
        } });
        return true;
      })
      .reply(201, remoteIncident('p31zjtct2jer', [{ id: 'u1', status: 'investigating', body: 'Some card payments fail. We are on it.' }]));
    await approve('U0BOB');
    expect((await lastChange()).status).toBe('executed');
    page = await json('/status.json');
    expect(page.status).toBe('major_outage');
    expect(page.incidents).toHaveLength(1);
    expect(page.incidents[0]).toMatchObject({ id: 1, title: 'Checkout errors', status: 'investigating', resolvedAt: null, updates: [{ status: 'investigating', body: 'Some card payments fail. We are on it.', components: { api: 'major_outage', web: 'degraded' } }] });
    expect(page.components.map((c) => [c.id, c.status])).toEqual([['api', 'major_outage'], ['web', 'degraded'], ['billing', 'operational']]);
    // Internal names never leak: the incident title and number are not on the page.
    const html = await (await fetch(`${t.url}/status`)).text();
    expect(html).not.toContain('db-primary-7');
    expect(html).not.toContain(`INC-${inc.id}`);
    expect(scope.isDone()).toBe(true);
    expect((await t.db.pool.query('SELECT remote_id FROM status_incidents WHERE id = 1')).rows[0].remote_id).toBe('p31zjtct2jer');

    const events = (await t.db.pool.query(`SELECT actor, incident_id, subject, payload FROM events WHERE type = 'statuspage.published'`)).rows;
    expect(events).toEqual([expect.objectContaining({ actor: 'U0ALICE', incident_id: inc.id, subject: 'statuspage:1', payload: expect.objectContaining({ changeId: change.id, approvers: ['U0BOB'], body: 'Some card payments fail. We are on it.' }) })]);
    // It is in the audit view too.
    const { responseId } = await t.slash('/audit log statuspage', { user: 'U0BOB' });
    await t.settle();
    expect(t.slack.replies(responseId).join('\n')).toMatch(/statuspage\.published/);
    // The incident channel hears that it went public, with the stable link.
    expect(t.slack.messagesIn(inc.channel).some((m) => m.text.startsWith('Status page updated'))).toBe(true);
  });

  it('a retried sync looks first and never duplicates an update Statuspage already has', async () => {
    // A second update, approved; the sync's PATCH reaches Statuspage but the answer is lost (500 after).
    await submit({ title: 'Checkout errors', status: 'identified', body: 'A bad deploy; rolling back.', 'component:api': 'partial_outage', 'component:web': 'degraded', 'component:billing': 'none' });
    const got = remoteIncident('p31zjtct2jer', [{ id: 'u1', status: 'investigating', body: 'Some card payments fail. We are on it.' }]);
    let patches = 0;
    nock(API).get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(200, got)
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`, (b) => {
        patches++;
        expect(b.incident).toMatchObject({ status: 'identified', body: 'A bad deploy; rolling back.', components: { cmpapi0001: 'partial_outage', cmpweb0001: 'degraded_performance' } });
        return true;
      })
      .reply(502, 'bad gateway');
    await approve('U0BOB');
    expect(patches).toBe(1);
    const unsynced = async () => (await t.db.pool.query('SELECT count(*)::int AS n FROM status_updates WHERE remote_synced_at IS NULL')).rows[0].n;
    expect(await unsynced()).toBe(1);
    // The retry finds the update on Statuspage (it did land) and sends nothing again.
    const withIt = remoteIncident('p31zjtct2jer', [...got.incident_updates.map((u) => ({ id: u.id, status: u.status, body: u.body })), { id: 'u2', status: 'identified', body: 'A bad deploy; rolling back.' }]);
    const retry = nock(API).get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(200, withIt);
    const job = (await t.db.pool.query(`SELECT id FROM jobs WHERE queue = 'statuspage.sync' AND status <> 'done' ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(job).toBeTruthy();
    await t.app.ctx.jobs.runNow(job.id);
    expect(retry.isDone()).toBe(true);
    expect(patches).toBe(1);
    expect(await unsynced()).toBe(0);
    expect((await json('/status.json')).incidents[0]!.updates.map((u) => u.status)).toEqual(['identified', 'investigating']);
  });

  it('a sync that keeps failing tells the incident channel on its last attempt; the page is unaffected', async () => {
    await submit({ title: 'Checkout errors', status: 'monitoring', body: 'Fix deployed; watching.', 'component:api': 'degraded', 'component:web': 'operational', 'component:billing': 'none' });
    nock(API).get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(401, { error: 'Could not authenticate' });
    await approve('U0BOB');
    const job = (await t.db.pool.query(`SELECT id, attempts FROM jobs WHERE queue = 'statuspage.sync' AND status <> 'done' ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(job).toBeTruthy();
    expect(t.slack.messagesIn(inc.channel).some((m) => m.text.includes('could not be copied to Atlassian'))).toBe(false);
    const sync = t.app.modules.find((m) => m.name === 'statuspage')!.jobs!['statuspage.sync']!;
    nock(API).get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(401, { error: 'Could not authenticate' });
    await sync({ id: job.id, queue: 'statuspage.sync', dedupeKey: null, payload: { statusIncidentId: 1 }, runAt: new Date(), attempts: 10, requestId: null });
    const warning = t.slack.messagesIn(inc.channel).find((m) => m.text.includes('could not be copied to Atlassian'));
    expect(JSON.stringify(warning?.blocks)).toContain('answered 401');
    expect((await json('/status.json')).incidents[0]!.status).toBe('monitoring');
    // The next successful sync sends it with the next update: it stays unsynced until then.
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM status_updates WHERE remote_synced_at IS NULL')).rows[0].n).toBe(1);
    nock(API).get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(200, remoteIncident('p31zjtct2jer', []))
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(200, remoteIncident('p31zjtct2jer', []));
    await sync({ id: job.id, queue: 'statuspage.sync', dedupeKey: null, payload: { statusIncidentId: 1 }, runAt: new Date(), attempts: 1, requestId: null });
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM status_updates WHERE remote_synced_at IS NULL')).rows[0].n).toBe(0);
  });

  it('/incident resolve offers the resolved notice, which goes through approval like every update', async () => {
    await t.slash('/incident resolve rolled back', { channel: inc.channel });
    await t.settle();
    const offer = t.slack.messagesIn(inc.channel).find((m) => m.text.includes('the status page still shows it as open'));
    expect(offer, 'resolved notice offer').toBeTruthy();
    const value = t.slack.buttonValue(inc.channel, 'still shows it as open', 'statuspage.open_resolved');
    const before = t.slack.views.length;
    await t.click('statuspage.open_resolved', value, { channel: inc.channel });
    await t.settle();
    const initial = initialValues(t.slack.views[before]!.view as unknown as View);
    expect(initial).toMatchObject({ status: 'resolved', 'component:api': 'operational', 'component:web': 'operational', 'component:billing': 'none' });
    expect(initial.body).toMatch(/^Resolved:/);

    nock(API).get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(200, remoteIncident('p31zjtct2jer', []))
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`, (b) => b.incident.status === 'resolved' && b.incident.components.cmpapi0001 === 'operational')
      .reply(200, remoteIncident('p31zjtct2jer', [{ id: 'u3', status: 'resolved', body: 'All payments work again.' }]));
    await submit({ title: 'Checkout errors', status: 'resolved', body: 'All payments work again.', 'component:api': 'operational', 'component:web': 'operational', 'component:billing': 'none' });
    expect((await json('/status.json')).incidents[0]!.status).toBe('monitoring');
    await approve('U0CAROL');
    const page = await json('/status.json');
    expect(page.status).toBe('operational');
    expect(page.incidents[0]).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String), durationMinutes: expect.any(Number) });
    expect(nock.isDone()).toBe(true);
  });
});
