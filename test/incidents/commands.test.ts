import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';
import { incidentEvents } from '../../src/events/log.js';
import type { HookPayloads } from '../../src/events/hooks.js';

/**
 * The incident subcommands and buttons as people use them: inside the channel, from
 * elsewhere with an id, from outside the channel, on a resolved incident; and pins.
 */
let t: TestApp;
const hooks: { name: keyof HookPayloads; payload: Record<string, unknown> }[] = [];

beforeAll(async () => {
  t = await startTestApp({
    config: { incidents: { severities: { P1: { responders: ['U0PAGED'], userGroups: ['S0DBA'], announce: ['ops'] } } } },
  });
  t.slack.userGroups.set('S0DBA', ['U0DBA1']);
  for (const name of ['incident.severity_changed', 'incident.status_changed', 'incident.resolved', 'incident.reopened'] as const) {
    t.app.ctx.hooks.on(name, async (p) => void hooks.push({ name, payload: p as never }));
  }
});
afterAll(() => t.stop());

const declare = (title: string, sev = 'P3', user = 'U0ALICE') => declareIncident(t, sev, title, user);
const reply = async (line: string, opts: { user?: string; channel?: string } = {}) => {
  const { responseId } = await t.slash(line, opts);
  await t.settle();
  return t.slack.replies(responseId).join('\n');
};
/**
 * Bolt acknowledges Events API deliveries before our listener runs: wait until each delivery
 * has been claimed (the handlers then hand their work to background, which settle() awaits).
 */
async function eventsProcessed(ids: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await t.db.pool.query('SELECT count(*)::int AS n FROM processed_requests WHERE key = ANY($1)', [ids.map((x) => `evt:${x}`)]);
    if (rows[0].n === ids.length) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await t.settle();
}
const row = async (id: number) => (await t.db.pool.query('SELECT * FROM incidents WHERE id = $1', [id])).rows[0];

describe('severity', () => {
  it('raising it applies the new policy: responders and groups invited, announced, hook fired', async () => {
    const inc = await declare('Replication lag');
    expect(t.slack.channel(inc.channel)!.members).not.toContain('U0PAGED');
    await reply('/incident severity sev1', { channel: inc.channel });
    const r = await row(inc.id);
    expect(r.severity).toBe('P1');
    expect(t.slack.channel(inc.channel)!.members).toEqual(expect.arrayContaining(['U0PAGED', 'U0DBA1']));
    expect(t.slack.messagesIn('ops').some((m) => m.text.includes('Replication lag'))).toBe(true);
    // P1's policy adds the customer and executive drafts that P3 did not post.
    const drafts = t.slack.messagesIn(inc.channel).map((m) => m.text).filter((x) => x.includes('draft for'));
    expect(drafts).toEqual([`Internal status update draft for INC-${inc.id}`, `Customer / status page update draft for INC-${inc.id}`, `Executive summary draft for INC-${inc.id}`]);
    const h = hooks.find((x) => x.name === 'incident.severity_changed' && (x.payload.incident as { id: number }).id === inc.id)!;
    expect(h.payload).toMatchObject({ from: 'P3', to: 'P1', actor: 'U0ALICE' });
    // P1 has a 30-minute cadence, P3 none: a reminder is now queued.
    const jobs = (await t.db.pool.query("SELECT run_at FROM jobs WHERE queue = 'incident.reminder' AND status = 'pending' AND (payload->>'incidentId')::bigint = $1", [inc.id])).rows;
    expect(jobs).toHaveLength(1);
    expect(JSON.stringify(t.slack.messagesIn(inc.channel)[0]!.blocks)).toContain('P1');
  });

  it('lowering to a severity without a cadence cancels its reminders', async () => {
    const inc = await declare('Lowered later', 'P1');
    const pending = async () => (await t.db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = 'incident.reminder' AND status = 'pending' AND (payload->>'incidentId')::bigint = $1", [inc.id])).rows[0].n;
    expect(await pending()).toBe(1);
    await reply('/incident severity P4', { channel: inc.channel });
    expect(await pending()).toBe(0);
    expect(JSON.stringify(t.slack.messagesIn(inc.channel)[0]!.blocks)).not.toContain('Next update due');
  });

  it('says so for a bad or unchanged severity', async () => {
    const inc = await declare('Disk filling');
    expect(await reply('/incident severity P9', { channel: inc.channel })).toMatch(/isn't a severity/);
    expect(await reply('/incident severity P3', { channel: inc.channel })).toMatch(/already P3/);
    expect((await row(inc.id)).severity).toBe('P3');
  });
});

describe('from elsewhere, by id', () => {
  it('works for a member and answers clearly without an id or with an unknown one', async () => {
    const inc = await declare('Cache misses');
    const ok = await reply(`/incident status INC-${inc.id} identified`, { channel: 'C0GENERAL' });
    expect(ok).toContain(`INC-${inc.id} is now identified`);
    expect((await row(inc.id)).status).toBe('identified');
    expect(await reply('/incident update something', { channel: 'C0GENERAL' })).toMatch(/Which incident\?/);
    expect(await reply('/incident note 99999 hello', { channel: 'C0GENERAL' })).toContain('There is no INC-99999');
  });

  it('refuses changes from someone not in the incident channel, but lets them read', async () => {
    const inc = await declare('Login failures');
    const before = (await incidentEvents(t.db.pool, inc.id)).length;
    const answer = await reply(`/incident update ${inc.id} all good`, { channel: 'C0GENERAL', user: 'U0MALLORY' });
    expect(answer).toContain("You're not in");
    expect(answer).toContain(`/incident timeline ${inc.id}`);
    expect((await incidentEvents(t.db.pool, inc.id)).length).toBe(before);
    expect(await reply(`/incident timeline ${inc.id}`, { channel: 'C0GENERAL', user: 'U0MALLORY' })).toContain(`Timeline of INC-${inc.id}`);
    // Joining the channel (Events API) makes them a member.
    await t.event({ type: 'member_joined_channel', user: 'U0MALLORY', channel: inc.channel }, { eventId: 'EvJOIN1' });
    await eventsProcessed(['EvJOIN1']);
    expect(await reply(`/incident note ${inc.id} looking at the IdP`, { channel: 'C0GENERAL', user: 'U0MALLORY' })).toContain('Note added');
  });

  it('a resolved incident says it is resolved and how to reopen it', async () => {
    const inc = await declare('Queue stuck');
    await reply(`/incident resolve ${inc.id} drained`, { channel: 'C0GENERAL' });
    const hook = hooks.find((x) => x.name === 'incident.resolved' && (x.payload.incident as { id: number }).id === inc.id);
    expect(hook).toBeDefined();
    for (const line of [`/incident update ${inc.id} more`, `/incident severity ${inc.id} P1`, `/incident role ${inc.id} tech me`, `/incident status ${inc.id} monitoring`]) {
      const answer = await reply(line, { channel: 'C0GENERAL' });
      expect(answer).toContain(`INC-${inc.id} was resolved at`);
      expect(answer).toContain(`/incident reopen ${inc.id}`);
    }
    expect(await reply(`/incident resolve ${inc.id}`, { channel: 'C0GENERAL' })).toMatch(/already resolved/);
    expect(await reply(`/incident reopen ${inc.id}`, { channel: 'C0GENERAL' })).toContain('reopened');
    expect((await row(inc.id)).status).toBe('investigating');
  });

  it('list shows open incidents only', async () => {
    const open = await declare('Listed open');
    const closed = await declare('Listed closed');
    await reply('/incident resolve', { channel: closed.channel });
    const answer = await reply('/incident list');
    expect(answer).toContain(`INC-${open.id}`);
    expect(answer).not.toContain(`INC-${closed.id}*`);
  });
});

describe('roles', () => {
  it('the headline names the roles the severity still needs until someone takes them', async () => {
    const inc = await declare('Needs roles', 'P2');
    const headline = () => JSON.stringify(t.slack.messagesIn(inc.channel)[0]!.blocks);
    expect(headline()).toContain('*Needs* a tech lead');
    await reply('/incident role tech <@U0BOB|bob>', { channel: inc.channel });
    expect(headline()).not.toContain('*Needs*');
    expect(headline()).toContain('Next update due');
  });

  it('parses mentions, me, and rejects nonsense', async () => {
    const inc = await declare('Roles parse');
    await reply('/incident role comms me', { channel: inc.channel, user: 'U0BOB' });
    expect((await row(inc.id)).comms_lead).toBe('U0BOB');
    expect(await reply('/incident role boss @U0BOB', { channel: inc.channel })).toMatch(/Usage: `\/incident role/);
    expect(await reply('/incident role tech', { channel: inc.channel })).toMatch(/Usage/);
    expect(await reply('/incident role tech @bob', { channel: inc.channel })).toContain("I couldn't tell who `@bob` is");
  });
});

describe('headline buttons', () => {
  it('take command makes the clicker commander and updates the headline in place', async () => {
    const inc = await declare('Button incident', 'P2', 'U0ALICE');
    const headline = t.slack.messagesIn(inc.channel)[0]!;
    await t.click('incident.take_command', String(inc.id), { user: 'U0BOB', channel: inc.channel, messageTs: headline.ts });
    await t.settle();
    expect((await row(inc.id)).commander).toBe('U0BOB');
    const updated = t.slack.messagesIn(inc.channel)[0]!;
    expect(JSON.stringify(updated.blocks)).toMatch(/Commander\*\\n<@U0BOB>/);
    expect(t.slack.channel(inc.channel)!.topic).toContain('<@U0BOB>');
  });

  it('post update opens a prefilled draft; submitting it posts the update', async () => {
    const inc = await declare('Update via modal', 'P2');
    await t.click('incident.post_update', String(inc.id), { channel: inc.channel });
    await t.settle();
    const view = t.slack.views.at(-1)!.view;
    expect(view.callback_id).toBe('incident.update');
    expect(JSON.stringify(view)).toContain(`INC-${inc.id} Update via modal`);
    const res = await t.submitView('incident.update', { text: 'Failover done, watching' }, { privateMetadata: view.private_metadata as string });
    expect(res.status).toBe(200);
    await t.settle();
    expect(t.slack.messagesIn(inc.channel).some((m) => m.text.includes('Failover done, watching'))).toBe(true);
    expect((await row(inc.id)).last_update_at).not.toBeNull();
  });

  it('resolve asks for a summary and resolves; an outsider clicking from elsewhere is refused', async () => {
    const inc = await declare('Resolve via modal', 'P2');
    const { responseId } = await t.click('incident.resolve', String(inc.id), { user: 'U0EVE', channel: 'C0GENERAL' });
    await t.settle();
    expect(t.slack.replies(responseId).join('\n')).toContain("You're not in");
    await t.click('incident.resolve', String(inc.id), { channel: inc.channel });
    await t.settle();
    const view = t.slack.views.at(-1)!.view;
    expect(view.callback_id).toBe('incident.resolve');
    await t.submitView('incident.resolve', { summary: 'Fixed by failover' }, { privateMetadata: view.private_metadata as string });
    await t.settle();
    expect((await row(inc.id)).status).toBe('resolved');
    expect(t.slack.messagesIn(inc.channel).some((m) => m.file?.content.includes('Fixed by failover'))).toBe(true);
  });
});

describe('pins and :pushpin: reactions', () => {
  it('become one timeline entry with text and link, however often Slack delivers them', async () => {
    const inc = await declare('Pinned evidence');
    t.slack.messages.push({ channel: inc.channel, ts: '1800000000.000100', text: 'p99 jumped at 10:42 after the config push', user: 'U0BOB' });
    const pin = { type: 'pin_added', user: 'U0BOB', channel_id: inc.channel, item: { type: 'message', channel: inc.channel, message: { ts: '1800000000.000100', text: 'p99 jumped at 10:42 after the config push' } } };
    await t.event(pin, { eventId: 'EvPIN1' });
    await t.event(pin, { eventId: 'EvPIN1', retryNum: 1 });
    await t.event(pin, { eventId: 'EvPIN1', retryNum: 2 });
    // Someone else also marks it with :pushpin: — still the same entry.
    await t.event({ type: 'reaction_added', user: 'U0CAROL', reaction: 'pushpin', item: { type: 'message', channel: inc.channel, ts: '1800000000.000100' } }, { eventId: 'EvREACT1' });
    await eventsProcessed(['EvPIN1', 'EvREACT1']);
    // The retries are dropped before the handler; give a straggler the chance to be wrong.
    await t.event(pin, { eventId: 'EvPIN1', retryNum: 3 });
    await eventsProcessed(['EvPIN1']);
    const pins = (await incidentEvents(t.db.pool, inc.id)).filter((e) => e.type === 'incident.pinned');
    expect(pins).toHaveLength(1);
    expect(pins[0]!.payload).toMatchObject({ text: 'p99 jumped at 10:42 after the config push', link: expect.stringContaining('p1800000000000100') });
    const timeline = await reply('/incident timeline', { channel: inc.channel });
    expect(timeline).toContain('Pinned: p99 jumped at 10:42 after the config push');
  });

  it('a :pushpin: reaction reads the message text; other reactions and other channels are ignored', async () => {
    const inc = await declare('Reacted evidence');
    t.slack.messages.push({ channel: inc.channel, ts: '1800000001.000200', text: 'rollback finished', user: 'U0BOB' });
    t.slack.messages.push({ channel: inc.channel, ts: '1800000001.000300', text: 'lunch?', user: 'U0BOB' });
    await t.event({ type: 'reaction_added', user: 'U0BOB', reaction: 'pushpin', item: { type: 'message', channel: inc.channel, ts: '1800000001.000200' } }, { eventId: 'EvR1' });
    await t.event({ type: 'reaction_added', user: 'U0BOB', reaction: 'thumbsup', item: { type: 'message', channel: inc.channel, ts: '1800000001.000300' } }, { eventId: 'EvR2' });
    await t.event({ type: 'reaction_added', user: 'U0BOB', reaction: 'pushpin', item: { type: 'message', channel: 'C0GENERAL', ts: '1800000001.000300' } }, { eventId: 'EvR3' });
    await eventsProcessed(['EvR1', 'EvR2', 'EvR3']);
    const pins = (await incidentEvents(t.db.pool, inc.id)).filter((e) => e.type === 'incident.pinned');
    expect(pins.map((p) => p.payload.text)).toEqual(['rollback finished']);
  });
});

describe('API for other areas', () => {
  it('acknowledge sets the time once; recordTimeline shows in the timeline; postToIncident posts in the channel', async () => {
    const inc = await declare('Paged incident', 'P2', 'U0ALICE');
    const svc = t.app.services.incidents;
    const first = new Date(t.clock.now().getTime() + 60_000);
    const acked = await svc.acknowledge(inc.id, 'pagerduty:PABC', 'PagerDuty acknowledged', first);
    expect(acked?.acknowledgedAt?.toISOString()).toBe(first.toISOString());
    const again = await svc.acknowledge(inc.id, 'pagerduty:PABC', 'PagerDuty acknowledged', new Date(first.getTime() + 60_000));
    expect(again?.acknowledgedAt?.toISOString()).toBe(first.toISOString());
    expect(await svc.acknowledge(999_999, 'x', 'y')).toBeUndefined();
    await svc.recordTimeline(inc.id, 'page.triggered', 'firebreak', { text: 'Paged payments on-call via PagerDuty', service: 'payments' });
    await svc.postToIncident(inc.id, { text: 'Paged payments on-call' });
    expect(t.slack.messagesIn(inc.channel).some((m) => m.text === 'Paged payments on-call')).toBe(true);
    const timeline = await reply('/incident timeline', { channel: inc.channel });
    expect(timeline).toContain('Paged payments on-call via PagerDuty');
    expect(timeline).toContain('Acknowledged (PagerDuty acknowledged)');
    expect(timeline).toContain('MTTA 1m 00s');
    expect(JSON.stringify(t.slack.messagesIn(inc.channel)[0]!.blocks)).toContain(`Acknowledged ${first.toISOString().replace('T', ' ').slice(0, 16)} UTC`);
    const types = (await incidentEvents(t.db.pool, inc.id)).map((e) => e.type);
    expect(types.filter((x) => x === 'incident.acknowledged')).toHaveLength(1);
  });
});

describe('a note re-run after its replica died', () => {
  it('is on the timeline and in the channel once: the job finds the event its first run wrote', async () => {
    const inc = await declare('Disk filling on db-2');
    const { triggerId } = await t.slash('/incident note rotated the WAL volume', { channel: inc.channel, triggerId: 'trig-note-rerun' });
    await t.settle();
    // The replica wrote the note, then died before marking its job done: another replica runs the job again.
    const rearmed = await t.db.pool.query(`UPDATE jobs SET status = 'pending', run_at = $2, locked_by = NULL WHERE dedupe_key = $1`, [`cmd:${triggerId}`, new Date(t.clock.now().getTime() - 1000)]);
    expect(rearmed.rowCount).toBe(1);
    await t.app.ctx.jobs.tick();
    await t.settle();
    const notes = (await incidentEvents(t.db.pool, inc.id)).filter((e) => e.type === 'incident.note_added');
    expect(notes.map((e) => e.payload.text)).toEqual(['rotated the WAL volume']);
    expect(t.slack.messagesIn(inc.channel).filter((m) => m.text.includes('rotated the WAL volume'))).toHaveLength(1);
  });
});
