import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { incidentEvents } from '../../src/events/log.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    config: { incidents: { severities: { P1: { responders: ['U0BOB'], userGroups: ['S0SRE'] } } } },
  });
  t.slack.userGroups.set('S0SRE', ['U0CAROL', 'U0BOB']);
});
afterAll(() => t.stop());
beforeEach(() => {
  t.slack.calls.length = 0;
});

const incidents = async () => (await t.db.pool.query('SELECT * FROM incidents ORDER BY id')).rows;

describe('/incident declare by text', () => {
  it('acknowledges, opens a channel, invites responders, posts the headline and announces it', async () => {
    const { res, responseId } = await t.slash('/incident declare P1 Database down');
    expect(res.status).toBe(200);
    await t.settle();
    const rows = await incidents();
    const inc = rows.find((r) => r.title === 'Database down')!;
    expect(inc.severity).toBe('P1');
    const date = (inc.declared_at as Date).toISOString().slice(0, 10).replace(/-/g, '');
    const ch = t.slack.channel(`inc-${date}-database-down`)!;
    expect(ch).toBeDefined();
    expect(ch.members).toEqual(expect.arrayContaining(['U0ALICE', 'U0BOB', 'U0CAROL']));
    expect(ch.topic).toContain('P1');
    expect(ch.purpose).toContain('Database down');
    const headline = t.slack.messagesIn(ch.id)[0]!;
    expect(JSON.stringify(headline.blocks)).toContain('Database down');
    expect(JSON.stringify(headline.blocks)).toContain('incident.take_command');
    expect(t.slack.messagesIn('incidents').some((m) => m.text.includes('Database down'))).toBe(true);
    expect(t.slack.replies(responseId).join('\n')).toContain(`INC-${inc.id} declared`);
    const types = (await incidentEvents(t.db.pool, inc.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['incident.declared', 'incident.channel_created', 'incident.responders_invited', 'incident.headline_posted', 'incident.announced']));
  });

  it.each([['p2'], ['sev2'], ['SEV-2'], ['Sev_2']])('accepts %s as a severity', async (sev) => {
    await t.slash(`/incident declare ${sev} Queue backlog ${sev}`);
    await t.settle();
    const row = (await incidents()).find((r) => r.title === `Queue backlog ${sev}`);
    expect(row?.severity).toBe('P2');
  });

  it('tells the user about a bad severity and records nothing', async () => {
    const before = (await incidents()).length;
    const { responseId } = await t.slash('/incident declare P7 Something');
    await t.settle();
    expect(t.slack.replies(responseId)[0]).toMatch(/isn't a severity/);
    expect((await incidents()).length).toBe(before);
  });

  it('opens the declare modal when the title is missing, prefilled with the severity', async () => {
    const { triggerId } = await t.slash('/incident declare P2');
    await t.settle();
    const opened = t.slack.views.find((v) => v.trigger_id === triggerId)!;
    expect(opened.view.callback_id).toBe('incident.declare');
    expect(JSON.stringify(opened.view)).toContain('"initial_option"');
  });

  it('one incident for a Slack retry of the same command', async () => {
    const first = await t.slash('/incident declare P3 Retry storm', { triggerId: 'trig-retry-1' });
    await t.slash('/incident declare P3 Retry storm', { triggerId: 'trig-retry-1', retryNum: 1 });
    expect(first.res.status).toBe(200);
    await t.settle();
    expect((await incidents()).filter((r) => r.title === 'Retry storm')).toHaveLength(1);
    expect(t.slack.callsTo('conversations.create').filter((c) => String(c.name).includes('retry-storm'))).toHaveLength(1);
  });

  it('one incident for a double submission, and the duplicate is told', async () => {
    const first = await t.slash('/incident declare P3 Double click');
    const second = await t.slash('/incident declare P3 Double click');
    await t.settle();
    expect((await incidents()).filter((r) => r.title === 'Double click')).toHaveLength(1);
    // Both run concurrently after the ack, so either may be the one that loses the race.
    const answers = [t.slack.replies(first.responseId).join('\n'), t.slack.replies(second.responseId).join('\n')];
    expect(answers.filter((a) => /no second incident/.test(a))).toHaveLength(1);
    expect(answers.filter((a) => /declared: Double click/.test(a))).toHaveLength(1);
  });
});

describe('channel name collisions', () => {
  it('adds a suffix when the name is taken by a live or an archived channel', async () => {
    const date = new Date(t.clock.now()).toISOString().slice(0, 10).replace(/-/g, '');
    t.slack.addChannel(`inc-${date}-cache-cold`);
    t.slack.addChannel(`inc-${date}-cache-cold-2`, { archived: true });
    await t.slash('/incident declare P3 Cache cold');
    await t.settle();
    const row = (await incidents()).find((r) => r.title === 'Cache cold')!;
    expect(row.channel_name).toBe(`inc-${date}-cache-cold-3`);
  });

  it('keeps names within 80 legal characters', async () => {
    await t.slash(`/incident declare P4 ${'Ünïcode & Symbols!! '.repeat(8)}`);
    await t.settle();
    const row = (await incidents()).find((r) => String(r.title).startsWith('Ünïcode'))!;
    expect(row.channel_name).toMatch(/^[a-z0-9_-]{1,80}$/);
  });
});

describe('/incident declare by modal', () => {
  it('validates fields and declares on a good submission', async () => {
    const bad = await t.submitView('incident.declare', { title: '', severity: 'P9' }, { selectBlocks: ['severity'] });
    const errors = (await bad.json()) as { response_action: string; errors: Record<string, string> };
    expect(errors.response_action).toBe('errors');
    expect(Object.keys(errors.errors).sort()).toEqual(['severity', 'title']);
    const ok = await t.submitView('incident.declare', { title: 'Payments slow', severity: 'P2', summary: 'p99 4s', service: 'payments' }, { selectBlocks: ['severity'], privateMetadata: JSON.stringify({ channelId: 'C0GENERAL' }) });
    expect(ok.status).toBe(200);
    await t.settle();
    const row = (await incidents()).find((r) => r.title === 'Payments slow')!;
    expect(row).toMatchObject({ severity: 'P2', summary: 'p99 4s', service: 'payments' });
  });
});

describe('failures', () => {
  it('keeps the incident and tells the declarer when Slack fails during declare', async () => {
    t.slack.fail('conversations.create', 'restricted_action');
    const { responseId } = await t.slash('/incident declare P2 Slack says no');
    await t.settle();
    const row = (await incidents()).find((r) => r.title === 'Slack says no')!;
    expect(row.setup_errors).toEqual({ 'create channel': 'restricted_action' });
    const reply = t.slack.replies(responseId).join('\n');
    expect(reply).toContain('is recorded');
    expect(reply).toContain(`/incident setup ${row.id}`);
    // The retry path finishes the job.
    const retry = await t.slash(`/incident setup ${row.id}`);
    await t.settle();
    expect(t.slack.replies(retry.responseId)[0]).toContain('declared');
    expect((await incidents()).find((r) => r.id === row.id)!.channel_id).toBeTruthy();
  });

  it('rejects forged and stale signatures with 401', async () => {
    const body = 'command=%2Fincident&text=declare+P1+x';
    expect((await t.postSigned(body, 'application/x-www-form-urlencoded', { secret: 'wrong-secret-123456' })).status).toBe(401);
    expect((await t.postSigned(body, 'application/x-www-form-urlencoded', { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    const unsigned = await fetch(`${t.url}/slack/events`, { method: 'POST', body });
    expect(unsigned.status).toBe(401);
  });

  it('answers malformed bodies with 400 and oversized ones with 413', async () => {
    expect((await t.postSigned('{not json', 'application/json')).status).toBe(400);
    expect((await t.postSigned('x'.repeat(1024 * 1024 + 10), 'application/x-www-form-urlencoded')).status).toBe(413);
  });
});

describe('/incident help', () => {
  it('lists every subcommand from the table, and unknown subcommands get it too', async () => {
    const { responseId } = await t.slash('/incident help');
    const { responseId: unknown } = await t.slash('/incident frobnicate');
    await t.settle();
    const help = t.slack.replies(responseId)[0]!;
    for (const sub of t.app.interactions.commands.get('/incident')!.subcommands) expect(help).toContain(`/incident ${sub.name}`);
    expect(t.slack.replies(unknown)[0]).toMatch(/I don't know `\/incident frobnicate`/);
  });
});
