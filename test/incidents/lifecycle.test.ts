import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { incidentEvents } from '../../src/events/log.js';
import type { FakeMessage } from '../support/fake-slack.js';
import { incidentsCli } from '../../src/cli/incidents.js';

/**
 * One P1 incident from declare to post-mortem with a fake clock: roles, status, updates,
 * reminders at the 30-minute cadence, escalation after two missed reminders, resolve, and
 * the post-mortem's times and durations.
 */
const T0 = new Date('2026-03-02T10:00:00Z');
let t: TestApp;
const clock = new FakeClock(T0);
let channel = '';
let id = 0;

const at = (minutes: number) => clock.set(T0.getTime() + minutes * MINUTE);
const row = async () => (await t.db.pool.query('SELECT * FROM incidents WHERE id = $1', [id])).rows[0];
const inChannel = (line: string, user = 'U0ALICE') => t.slash(line, { channel, user });
const texts = (msgs: FakeMessage[]) => msgs.map((m) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`);
const reminders = () => texts(t.slack.messagesIn(channel)).filter((m) => m.includes('post a stakeholder update'));
const escalations = () => texts(t.slack.messagesIn('incidents')).filter((m) => m.includes('no update for'));

beforeAll(async () => {
  t = await startTestApp({ clock });
  // Alice set a display name in Slack; Bob did not, so his full name stands in for it.
  t.slack.users.set('U0ALICE', { display_name: 'alice' });
  t.slack.users.set('U0BOB', { display_name: '', real_name: 'Bob Builder' });
  ({ id, channel } = await declareIncident(t, 'P1', 'Checkout errors'));
});
afterAll(() => t.stop());

describe('incident lifecycle with a fake clock', () => {
  it('the first person acting acknowledges it; roles land on the headline', async () => {
    at(2);
    await inChannel('/incident role tech <@U0BOB|bob>');
    await inChannel('/incident role comms @U0CAROL');
    await t.settle();
    const r = await row();
    expect(r.acknowledged_at.toISOString()).toBe('2026-03-02T10:02:00.000Z');
    expect(r).toMatchObject({ commander: 'U0ALICE', tech_lead: 'U0BOB', comms_lead: 'U0CAROL' });
    expect(t.slack.channel(channel)!.members).toEqual(expect.arrayContaining(['U0BOB', 'U0CAROL']));
    const headline = t.slack.messagesIn(channel)[0]!;
    expect(JSON.stringify(headline.blocks)).toContain('<@U0BOB>');
    expect(t.slack.callsTo('chat.update').some((c) => c.ts === headline.ts)).toBe(true);
  });

  it('status identified is timestamped; an update restarts the cadence', async () => {
    at(5);
    await inChannel('/incident status identified');
    await inChannel('/incident update Rolled back the 09:50 deploy; errors dropping');
    await t.settle();
    const r = await row();
    expect(r.status).toBe('identified');
    expect(r.identified_at.toISOString()).toBe('2026-03-02T10:05:00.000Z');
    expect(r.last_update_at.toISOString()).toBe('2026-03-02T10:05:00.000Z');
    expect(texts(t.slack.messagesIn(channel)).some((m) => m.includes('Rolled back the 09:50 deploy'))).toBe(true);
    // Stakeholders in #incidents see the update too.
    expect(texts(t.slack.messagesIn('incidents')).some((m) => m.includes('Rolled back the 09:50 deploy'))).toBe(true);
  });

  it('reminds the commander when the cadence passes without an update, once per slot', async () => {
    at(34);
    await t.settle();
    expect(reminders()).toHaveLength(0);
    at(35);
    await t.settle();
    await t.settle();
    expect(reminders()).toHaveLength(1);
    expect(reminders()[0]).toContain('<@U0ALICE>');
    expect(reminders()[0]).toContain('30 minutes');
    at(65);
    await t.settle();
    expect(reminders()).toHaveLength(2);
    expect(escalations()).toHaveLength(0);
  });

  it('after two missed reminders, the announcement channel is told', async () => {
    at(95);
    await t.settle();
    expect(reminders()).toHaveLength(3);
    expect(escalations()).toHaveLength(1);
    expect(escalations()[0]).toContain(`INC-${id}`);
    expect(escalations()[0]).toContain('90 minutes');
    const types = (await incidentEvents(t.db.pool, id)).map((e) => e.type);
    expect(types.filter((x) => x === 'incident.reminder_sent')).toHaveLength(3);
    expect(types.filter((x) => x === 'incident.reminder_escalated')).toHaveLength(1);
  });

  it('monitoring marks it mitigated; notes with action: become action items', async () => {
    at(100);
    await inChannel('/incident status monitoring');
    await inChannel('/incident note action: add a connection pool alarm <@U0BOB|bob> due 2026-03-09');
    await inChannel('/incident note pool at 100% during the spike');
    await t.settle();
    expect((await row()).mitigated_at.toISOString()).toBe('2026-03-02T11:40:00.000Z');
  });

  it('timeline shows exact times and MTTA / MTTM', async () => {
    at(110);
    const { responseId } = await inChannel('/incident timeline');
    await t.settle();
    const reply = t.slack.replies(responseId).join('\n');
    expect(reply).toContain('declared 2026-03-02 10:00:00 UTC');
    expect(reply).toContain('MTTA 2m 00s');
    expect(reply).toContain('MTTM 1h 40m 00s');
    expect(reply).toContain('MTTR —');
    expect(reply).toMatch(/10:05:00.*Status investigating → identified/);
    expect(reply).toContain('Update reminder #3');
  });

  it('resolve: stops reminders, refreshes the headline without buttons, and writes the post-mortem', async () => {
    at(120);
    await inChannel('/incident resolve Rolled back and resized the pool');
    await t.settle();
    const r = await row();
    expect(r.status).toBe('resolved');
    expect(r.resolved_at.toISOString()).toBe('2026-03-02T12:00:00.000Z');
    const headline = t.slack.messagesIn(channel)[0]!;
    expect(JSON.stringify(headline.blocks)).not.toContain('incident.take_command');
    expect(headline.text).toContain('Resolved');
    expect(texts(t.slack.messagesIn('incidents')).some((m) => m.includes('Resolved:') && m.includes('2h 00m 00s'))).toBe(true);

    const file = t.slack.messagesIn(channel).find((m) => m.file)!.file!;
    expect(file.filename).toBe(`INC-${id}-postmortem-v1.md`);
    const md = file.content;
    expect(md).toContain(`# Post-mortem: INC-${id} — Checkout errors`);
    expect(md).toContain('Rolled back and resized the pool');
    expect(md).toContain('| Declared | 2026-03-02 10:00:00 UTC |');
    expect(md).toContain('| Acknowledged | 2026-03-02 10:02:00 UTC |');
    expect(md).toContain('| Identified | 2026-03-02 10:05:00 UTC |');
    expect(md).toContain('| Mitigated | 2026-03-02 11:40:00 UTC |');
    expect(md).toContain('| Resolved | 2026-03-02 12:00:00 UTC |');
    expect(md).toContain('| MTTA | 2m 00s |');
    expect(md).toContain('| MTTM | 1h 40m 00s |');
    expect(md).toContain('| MTTR | 2h 00m 00s |');
    expect(md).toContain('| 2026-03-02 10:00:00 UTC | P1 | @alice |');
    expect(md).toMatch(/\| 2026-03-02 10:05:00 UTC \| @alice \| Update: Rolled back the 09:50 deploy/);
    expect(md).not.toContain('U0ALICE');
    // Action notes are follow-ups now: the row carries its ref, live status and tracker column.
    expect(md).toMatch(/\| F-\d+: add a connection pool alarm \| @Bob Builder \| 2026-03-09 \| open \| — \|/);
    for (const heading of ['## Summary', '## Impact', '## Severity history', '## Timeline', '## Root cause', '## What went well', '## What went badly', '## Action items']) {
      expect(md).toContain(heading);
    }
    const stored = (await t.db.pool.query('SELECT version, markdown FROM postmortems WHERE incident_id = $1', [id])).rows;
    expect(stored).toEqual([{ version: 1, markdown: md }]);

    const before = reminders().length;
    at(300);
    await t.settle();
    expect(reminders()).toHaveLength(before);
  });

  it('/incident postmortem regenerates a new stored version', async () => {
    at(180);
    await inChannel('/incident postmortem');
    await t.settle();
    const versions = (await t.db.pool.query('SELECT version FROM postmortems WHERE incident_id = $1 ORDER BY version', [id])).rows.map((r) => r.version);
    expect(versions).toEqual([1, 2]);
    expect(t.slack.messagesIn(channel).some((m) => m.file?.filename === `INC-${id}-postmortem-v2.md`)).toBe(true);
  });

  it('firebreak incidents postmortem <id> prints the stored draft without Slack', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) };
    expect(await incidentsCli.run('postmortem', [`INC-${id}`, '--database-url', t.db.url], io)).toBe(0);
    const v2 = (await t.db.pool.query('SELECT markdown FROM postmortems WHERE incident_id = $1 AND version = 2', [id])).rows[0].markdown;
    expect(out.join('\n')).toBe(v2);
    expect(await incidentsCli.run('postmortem', ['99999', '--database-url', t.db.url], io)).toBe(1);
    expect(err.at(-1)).toBe('There is no INC-99999.');
  });

  it('reopen puts it back to investigating and restarts reminders from the reopen', async () => {
    at(200);
    await inChannel('/incident reopen errors are back');
    await t.settle();
    expect((await row())).toMatchObject({ status: 'investigating', resolved_at: null, missed_reminders: 0 });
    const before = reminders().length;
    at(229);
    await t.settle();
    expect(reminders()).toHaveLength(before);
    at(230);
    await t.settle();
    expect(reminders()).toHaveLength(before + 1);
    expect(JSON.stringify(t.slack.messagesIn(channel)[0]!.blocks)).toContain('incident.take_command');
  });
});
