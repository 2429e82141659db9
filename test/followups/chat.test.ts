import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { ADD_FOLLOWUP_ACTION, ADD_FOLLOWUP_VIEW } from '../../src/templates/followups.js';

/**
 * Follow-ups from chat with no tracker configured: `action:` notes (once per note), the
 * command, the button and its modal, an owner that maps to nobody, `/followups mine` and
 * `done`, the incident's list, and the post-mortem's live action list.
 */
const T0 = new Date('2026-03-02T10:00:00Z');
const clock = new FakeClock(T0);
let t: TestApp;
let id = 0;
let channel = '';

beforeAll(async () => {
  t = await startTestApp({ clock });
  ({ id, channel } = await declareIncident(t, 'P2', 'Checkout latency'));
});
afterAll(() => t.stop());

const rows = async () => (await t.db.pool.query('SELECT *, to_char(due_on, \'YYYY-MM-DD\') AS due FROM followups WHERE incident_id = $1 ORDER BY id', [id])).rows;
/** What the person was answered (response_url bodies and ephemerals), blocks included. */
const answered = (responseId: string) => t.slack.responses.filter((r) => r.url === `/response/${responseId}`).map((r) => JSON.stringify(r.body)).join('\n');
const ephemeralsTo = (user: string) => t.slack.messagesIn(channel).filter((m) => m.ephemeralTo === user).map((m) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`);
async function run(line: string, opts: { user?: string; channel?: string; retryNum?: number; triggerId?: string } = {}) {
  const r = await t.slash(line, { channel, ...opts });
  await t.settle();
  return answered(r.responseId);
}

describe('follow-ups from action notes', () => {
  it('an action note becomes one follow-up with owner and due date, however often it is read', async () => {
    await run('/incident note action: Add a replica lag alert <@U0BOB|bob> due 2026-03-20');
    let r = await rows();
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ title: 'Add a replica lag alert', owner_user_id: 'U0BOB', owner_label: null, due: '2026-03-20', status: 'open', source: 'note', export_state: 'none' });
    const note = (await t.db.pool.query(`SELECT id FROM events WHERE incident_id = $1 AND type = 'incident.note_added'`, [id])).rows[0];
    expect(Number(r[0].source_event_id)).toBe(Number(note.id));
    // Listing and the post-mortem read the notes again: still one.
    await run('/incident followups');
    await run('/incident postmortem');
    r = await rows();
    expect(r).toHaveLength(1);
    expect(ephemeralsTo('U0ALICE').some((m) => m.includes('Recorded follow-up') && m.includes('F-'))).toBe(true);
  });

  it('a plain @name that maps to no user is kept as written and the author is told', async () => {
    await run('/incident note action: Rotate the replication keys @carol due 2026-03-10');
    const f = (await rows()).find((x) => x.title === 'Rotate the replication keys')!;
    expect(f).toMatchObject({ owner_user_id: null, owner_label: 'carol', due: '2026-03-10' });
    expect(ephemeralsTo('U0ALICE').some((m) => m.includes('`@carol` is not linked to a chat user'))).toBe(true);
  });

  it('a note with an impossible date stays a note and says why', async () => {
    await run('/incident note action: Tune autovacuum due 2026-02-30');
    expect((await rows()).some((x) => x.title.includes('autovacuum'))).toBe(false);
    expect(ephemeralsTo('U0ALICE').some((m) => m.includes('`2026-02-30` is not a date'))).toBe(true);
  });

  it('plain notes are left alone', async () => {
    const before = (await rows()).length;
    await run('/incident note restarted the replica');
    expect(await rows()).toHaveLength(before);
  });
});

describe('/incident followup add and the Add follow-up button', () => {
  it('records once per request, even when Slack retries it', async () => {
    const first = await t.slash('/incident followup add Write the failover runbook <@U0ALICE|alice> due 2026-03-05', { channel, triggerId: 'trig-runbook' });
    await t.settle();
    expect(answered(first.responseId)).toContain('Recorded follow-up');
    const n = (await rows()).length;
    // Slack's retry of the same request carries the same request key.
    await run('/incident followup add Write the failover runbook <@U0ALICE|alice> due 2026-03-05', { retryNum: 1, triggerId: 'trig-runbook' });
    const r = await rows();
    expect(r.filter((x) => x.title === 'Write the failover runbook')).toHaveLength(1);
    expect(r).toHaveLength(n);
    expect(r.find((x) => x.title === 'Write the failover runbook')).toMatchObject({ source: 'command', owner_user_id: 'U0ALICE', due: '2026-03-05' });
  });

  it('a request recorded again (a re-run after its replica died) returns the first follow-up', async () => {
    const input = { incidentId: id, title: 'Check the pooler limits', source: 'command' as const, requestKey: 'req-rerun-1', actor: 'U0ALICE' };
    const a = await t.app.services.followups.record(input);
    const b = await t.app.services.followups.record(input);
    expect(a.created).toBe(true);
    expect(b).toMatchObject({ created: false, followup: { id: a.followup.id } });
    expect((await rows()).filter((x) => x.title === 'Check the pooler limits')).toHaveLength(1);
    await t.app.services.followups.markDone(a.followup.id, 'U0ALICE', async () => true);
  });

  it('says what is wrong with a bad date or a missing title', async () => {
    expect(await run('/incident followup add Fix it due 2026-13-01')).toContain('is not a date');
    expect(await run('/incident followup add @U0BOB')).toContain('Say what needs doing');
    expect(await run('/incident followup list')).toContain('Usage');
  });

  it('outside the channel needs the id; people not in the channel are refused', async () => {
    expect(await run('/incident followup add Something', { channel: 'C0GENERAL' })).toContain('Which incident?');
    expect(await run(`/incident followup add ${id} Something`, { channel: 'C0GENERAL', user: 'U0STRANGER' })).toContain('not in');
  });

  it('the button on the post-mortem notice opens the modal; its submission records a follow-up once', async () => {
    const value = t.slack.buttonValue(channel, 'Post-mortem draft', ADD_FOLLOWUP_ACTION);
    expect(value).toBe(String(id));
    await t.click(ADD_FOLLOWUP_ACTION, value, { channel });
    await t.settle();
    const view = t.slack.views.at(-1)!.view as { callback_id: string; private_metadata: string; blocks: { block_id?: string; element?: { type: string } }[] };
    expect(view.callback_id).toBe(ADD_FOLLOWUP_VIEW);
    expect(view.blocks.map((b) => b.element?.type)).toEqual([undefined, 'plain_text_input', 'users_select', 'datepicker']);
    const submit = () => t.submitView(ADD_FOLLOWUP_VIEW, { title: 'Add a connection-pool dashboard', owner: 'U0BOB', due: '2026-03-25' }, { privateMetadata: view.private_metadata, viewId: 'VFIXED1' });
    expect((await submit()).status).toBe(200);
    await t.settle();
    expect((await submit()).status).toBe(200);
    await t.settle();
    const made = (await rows()).filter((x) => x.title === 'Add a connection-pool dashboard');
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ source: 'button', owner_user_id: 'U0BOB', due: '2026-03-25' });
  });

  it('the modal refuses an empty title and a stranger', async () => {
    const meta = JSON.stringify({ incidentId: id, channelId: channel });
    const res = await t.submitView(ADD_FOLLOWUP_VIEW, { title: '  ' }, { privateMetadata: meta });
    expect(JSON.stringify(await res.json())).toContain('Say what needs doing');
    const stranger = await t.submitView(ADD_FOLLOWUP_VIEW, { title: 'x' }, { privateMetadata: meta, user: 'U0STRANGER' });
    expect(JSON.stringify(await stranger.json())).toContain('Join the incident channel');
  });
});

describe('listing and closing', () => {
  it('/incident followups lists status, owner, due date with overdue marked; from elsewhere with an id', async () => {
    clock.set(new Date('2026-03-12T09:00:00Z'));
    const here = await run('/incident followups');
    expect(here).toContain('Add a replica lag alert');
    expect(here).toContain('<@U0BOB>');
    expect(here).toContain('@carol _(not linked to a chat user)_');
    // Due 2026-03-10 and 2026-03-05: overdue on the 12th; due the 20th is not.
    expect(here).toMatch(/overdue\* \(due 2026-03-10\)/);
    expect(here).toContain('due 2026-03-20');
    const elsewhere = await run(`/incident followups ${id}`, { channel: 'C0GENERAL', user: 'U0STRANGER' });
    expect(elsewhere).toContain('Add a replica lag alert');
    expect(await run('/incident followups', { channel: 'C0GENERAL' })).toContain('Which incident?');
  });

  it('/followups mine lists only my open follow-ups; done closes one and audits it', async () => {
    const mine = await run('/followups mine', { user: 'U0BOB', channel: 'C0GENERAL' });
    expect(mine).toContain('Add a replica lag alert');
    expect(mine).toContain('Add a connection-pool dashboard');
    expect(mine).not.toContain('failover runbook');
    const f = (await rows()).find((x) => x.title === 'Add a replica lag alert')!;
    expect(await run(`/followups done F-${f.id}`, { user: 'U0STRANGER', channel: 'C0GENERAL' })).toContain('can mark it done');
    expect(await run(`/followups done F-${f.id}`, { user: 'U0BOB', channel: 'C0GENERAL' })).toContain('is done');
    expect((await rows()).find((x) => x.id === f.id)).toMatchObject({ status: 'done', closed_by: 'U0BOB' });
    expect(await run(`/followups done ${f.id}`, { user: 'U0BOB', channel: 'C0GENERAL' })).toContain('already done');
    expect(await run('/followups done nope', { user: 'U0BOB', channel: 'C0GENERAL' })).toContain('There is no follow-up');
    expect(await run('/followups mine', { user: 'U0BOB', channel: 'C0GENERAL' })).not.toContain('Add a replica lag alert');
    const ev = (await t.db.pool.query(`SELECT * FROM events WHERE incident_id = $1 AND type = 'followup.closed' AND payload->>'followupId' = $2`, [id, String(f.id)])).rows;
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ actor: 'U0BOB' });
    expect(await run('/followups', { user: 'U0NOBODY', channel: 'C0GENERAL' })).toContain('no open follow-ups');
  });

  it('the regenerated post-mortem shows each follow-up\'s live status', async () => {
    await run('/incident postmortem');
    const md = (await t.db.pool.query('SELECT markdown FROM postmortems WHERE incident_id = $1 ORDER BY version DESC LIMIT 1', [id])).rows[0].markdown as string;
    expect(md).toContain('| Action | Owner | Due | Status | Tracker |');
    expect(md).toMatch(/\| F-\d+: Add a replica lag alert \| @U0BOB \| 2026-03-20 \| done \| — \|/);
    expect(md).toMatch(/\| F-\d+: Rotate the replication keys \| @carol \(not linked\) \| 2026-03-10 \| open, \*\*overdue\*\* \| — \|/);
    // The note that is not a follow-up (bad date) is still listed, as not recorded.
    expect(md).toMatch(/Tune autovacuum.*not recorded/);
  });
});
