/**
 * Every incident change is one durable job (src/handlers/interactions.ts). A replica can die
 * at any point of it; another replica then runs the job again from the top. Whatever point
 * it died at, the change must leave exactly one of each effect: one timeline event, one
 * message per channel, one post-mortem version.
 *
 * Two deaths are replayed for each command, on the state a real kill leaves:
 * - after everything was done but before the job was marked done (the re-run must add nothing);
 * - after the change was saved but before its messages reached Slack (the re-run must post
 *   each of them, once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';
import type { FakeMessage } from '../support/fake-slack.js';
import { incidentEvents } from '../../src/events/log.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    config: { incidents: { severities: { P1: { responders: ['U0PAGED'], announce: ['ops'] } } } },
  });
  t.slack.addChannel('ops');
});
afterAll(() => t.stop());

const declare = (title: string, sev = 'P3') => declareIncident(t, sev, title);

/** The job of a Slack request runs again, as when its replica died before marking it done. */
async function rerun(triggerId: string): Promise<void> {
  const due = new Date(t.clock.now().getTime() - 1000);
  const rearmed = await t.db.pool.query(`UPDATE jobs SET status = 'pending', run_at = $2, locked_by = NULL WHERE dedupe_key = $1`, [`cmd:${triggerId}`, due]);
  expect(rearmed.rowCount).toBe(1);
  await t.app.ctx.jobs.tick();
  await t.settle();
}

const fromRequest = (triggerId: string) => (m: FakeMessage) => String(m.metadata?.event_payload.step ?? '').endsWith(`:${triggerId}`);

/** What one request left: its messages by channel and tag, its events, the post-mortem files. */
async function effects(incidentId: number, triggerId: string) {
  const messages = t.slack.messages.filter(fromRequest(triggerId)).map((m) => `${m.channel} ${String(m.metadata!.event_payload.step).split(':')[0]}`).sort();
  const events = (await incidentEvents(t.db.pool, incidentId)).filter((e) => String(e.payload.requestKey ?? '').endsWith(triggerId)).map((e) => e.type).sort();
  const files = t.slack.messages.filter((m) => m.file?.filename.startsWith(`INC-${incidentId}-postmortem`)).length;
  return { messages, events, files };
}

/** The state a replica leaves when it dies after saving the change, before any message went out. */
function forgetMessages(triggerId: string): number {
  const before = t.slack.messages.length;
  const keep = t.slack.messages.filter((m) => !fromRequest(triggerId)(m));
  t.slack.messages.splice(0, t.slack.messages.length, ...keep);
  return before - keep.length;
}

const cases: { name: string; sev?: string; line: (id: number) => string; expectMessages: number }[] = [
  { name: 'update', line: (id) => `/incident update ${id} replica rebuilt, traffic back`, expectMessages: 2 },
  { name: 'status', line: (id) => `/incident status ${id} identified`, expectMessages: 1 },
  { name: 'severity raised', line: (id) => `/incident severity ${id} P1`, expectMessages: 5 },
  { name: 'role', line: (id) => `/incident role ${id} tech <@U0BOB>`, expectMessages: 1 },
  { name: 'note', line: (id) => `/incident note ${id} failover done`, expectMessages: 1 },
  { name: 'resolve', line: (id) => `/incident resolve ${id} root cause was the cache`, expectMessages: 4 },
];

describe('an incident command re-run after its replica died leaves one of each effect', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const inc = await declare(`Re-run ${c.name}`, c.sev);
      const { triggerId } = await t.slash(c.line(inc.id));
      await t.settle();
      const first = await effects(inc.id, triggerId);
      expect(first.messages).toHaveLength(c.expectMessages);
      expect(first.events).toHaveLength(c.name === 'resolve' ? 2 : 1);

      // Died after everything, before the job was marked done: nothing is added.
      await rerun(triggerId);
      expect(await effects(inc.id, triggerId)).toEqual(first);

      // Died after saving the change, before its messages went out: each is posted once now.
      expect(forgetMessages(triggerId)).toBe(c.expectMessages);
      await rerun(triggerId);
      const after = await effects(inc.id, triggerId);
      expect(after.messages).toEqual(first.messages);
      expect(after.events).toEqual(first.events);
    });
  }

  it('reopen', async () => {
    const inc = await declare('Re-run reopen');
    await t.slash(`/incident resolve ${inc.id}`);
    await t.settle();
    const { triggerId } = await t.slash(`/incident reopen ${inc.id} it came back`);
    await t.settle();
    const first = await effects(inc.id, triggerId);
    expect(first).toMatchObject({ messages: [`${inc.channel} reopen`], events: ['incident.reopened'] });
    await rerun(triggerId);
    expect(await effects(inc.id, triggerId)).toEqual(first);
    forgetMessages(triggerId);
    await rerun(triggerId);
    expect(await effects(inc.id, triggerId)).toEqual(first);
  });

  it('a resolve whose replica died before the post-mortem went out uploads the version it saved, once', async () => {
    const inc = await declare('Re-run post-mortem');
    const { triggerId } = await t.slash(`/incident resolve ${inc.id}`);
    await t.settle();
    expect((await effects(inc.id, triggerId)).files).toBe(1);
    // Died after saving v1, before uploading it.
    const keep = t.slack.messages.filter((m) => !m.file?.filename.startsWith(`INC-${inc.id}-postmortem`) && !fromRequest(triggerId)(m));
    t.slack.messages.splice(0, t.slack.messages.length, ...keep);
    await rerun(triggerId);
    const after = await effects(inc.id, triggerId);
    expect(after.files).toBe(1);
    expect(t.slack.messages.filter((m) => m.file?.filename === `INC-${inc.id}-postmortem-v1.md`)).toHaveLength(1);
    const versions = (await t.db.pool.query('SELECT version FROM postmortems WHERE incident_id = $1', [inc.id])).rows;
    expect(versions).toEqual([{ version: 1 }]);
  });

  it('a resolve whose replica died after uploading the post-mortem, before its notice, posts the notice and not a second file', async () => {
    const inc = await declare('Re-run post-mortem upload');
    const { triggerId } = await t.slash(`/incident resolve ${inc.id}`);
    await t.settle();
    // Died after the upload: the file is in the channel, the notice (tagged postmortem:…) is not.
    const notice = (m: FakeMessage) => fromRequest(triggerId)(m) && String(m.metadata!.event_payload.step).startsWith('postmortem:');
    expect(t.slack.messages.filter(notice)).toHaveLength(1);
    t.slack.messages.splice(0, t.slack.messages.length, ...t.slack.messages.filter((m) => !notice(m)));
    await rerun(triggerId);
    expect(t.slack.messages.filter((m) => m.file?.filename === `INC-${inc.id}-postmortem-v1.md`)).toHaveLength(1);
    expect(t.slack.messages.filter(notice)).toHaveLength(1);
  });

  it('the take-command button, re-run, announces the new commander once', async () => {
    const inc = await declare('Re-run take command');
    const headline = t.slack.messagesIn(inc.channel)[0]!;
    await t.click('incident.take_command', String(inc.id), { user: 'U0CAROL', channel: inc.channel, messageTs: headline.ts, actionTs: '1800000000.123456' });
    await t.settle();
    const key = '1800000000.123456:U0CAROL:incident.take_command';
    const job = (await t.db.pool.query(`SELECT dedupe_key FROM jobs WHERE dedupe_key = $1`, [`act:${key}`])).rows;
    expect(job).toHaveLength(1);
    const count = () => t.slack.messagesIn(inc.channel).filter((m) => m.metadata?.event_payload.step === `role:${key}`).length;
    expect(count()).toBe(1);
    const forget = () => t.slack.messages.splice(0, t.slack.messages.length, ...t.slack.messages.filter((m) => m.metadata?.event_payload.step !== `role:${key}`));
    forget();
    await t.db.pool.query(`UPDATE jobs SET status = 'pending', run_at = $2, locked_by = NULL WHERE dedupe_key = $1`, [`act:${key}`, new Date(t.clock.now().getTime() - 1000)]);
    await t.app.ctx.jobs.tick();
    await t.settle();
    expect(count()).toBe(1);
    const roles = (await incidentEvents(t.db.pool, inc.id)).filter((e) => e.type === 'incident.role_assigned');
    expect(roles).toHaveLength(1);
  });
});
