/**
 * The war-room setup as resumable steps: a repair adopts what Slack already has instead of
 * making it again, and a Slack outage is reported and then finished when Slack answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import type { FakeMessage } from '../support/fake-slack.js';
import { retryStuckSetups } from '../../src/incidents/setup.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ config: { incidents: { severities: { P1: { responders: ['U0BOB'] } } } } });
});
afterAll(() => t.stop());

const incident = async (title: string) => (await t.db.pool.query('SELECT * FROM incidents WHERE title = $1', [title])).rows[0];
const tagged = (id: number, step: string) => (m: FakeMessage) =>
  Number(m.metadata?.event_payload.incident_id) === id && m.metadata?.event_payload.step === step;

describe('war-room setup', () => {
  it('tags what it posts with the incident and step (Slack message metadata)', async () => {
    await t.slash('/incident declare P1 Tagged steps');
    await t.settle();
    const inc = await incident('Tagged steps');
    expect(t.slack.messagesIn(inc.channel_id).filter(tagged(inc.id, 'headline'))).toHaveLength(1);
    expect(t.slack.messagesIn('incidents').filter(tagged(inc.id, 'announce'))).toHaveLength(1);
    expect(inc.setup_steps).toMatchObject({ channel: 'done', topic: 'done', invite: 'done', headline: 'done', announce: 'done', page: 'done' });
  });

  it('/incident setup adopts a channel and headline that exist at Slack but were never recorded, and makes nothing new', async () => {
    await t.slash('/incident declare P1 Lost records');
    await t.settle();
    const inc = await incident('Lost records');
    // A replica died after Slack answered but before the answers were saved: only the
    // intents (the claimed channel name, steps started) made it to PostgreSQL.
    await t.db.pool.query(
      `UPDATE incidents SET channel_id = NULL, headline_ts = NULL, setup_errors = '{}',
              setup_steps = '{"channel":"started","topic":"done","invite":"done","headline":"started"}' WHERE id = $1`,
      [inc.id],
    );
    const channelsBefore = t.slack.channels.length;
    const messagesBefore = t.slack.messages.filter((m) => !m.ephemeralTo).length;
    t.slack.calls.length = 0;

    const { responseId } = await t.slash(`/incident setup ${inc.id}`);
    await t.settle();

    const after = await incident('Lost records');
    expect(after.channel_id).toBe(inc.channel_id);
    expect(after.headline_ts).toBe(inc.headline_ts);
    expect(t.slack.channels.length).toBe(channelsBefore);
    expect(t.slack.channels.some((c) => c.name === `${inc.channel_name}-2`)).toBe(false);
    expect(t.slack.callsTo('chat.postMessage')).toHaveLength(0);
    expect(t.slack.messages.filter((m) => !m.ephemeralTo).length).toBe(messagesBefore);
    expect(t.slack.callsTo('conversations.info').length).toBeGreaterThan(0);
    expect(t.slack.callsTo('conversations.history').some((c) => c.include_all_metadata === true || c.include_all_metadata === 'true')).toBe(true);
    expect(t.slack.replies(responseId).join('\n')).toContain(`INC-${inc.id} declared`);
  });

  it('/incident setup never adopts a channel a person made under the same name', async () => {
    await t.slash('/incident declare P1 Squatted name');
    await t.settle();
    const inc = await incident('Squatted name');
    // Simulate: the incident lost its channel record and a person took over the name.
    const ours = t.slack.channel(inc.channel_id)!;
    ours.name = `${inc.channel_name}-old`;
    const squatter = t.slack.addChannel(inc.channel_name, { creator: 'U0MALLORY' });
    await t.db.pool.query(`UPDATE incidents SET channel_id = NULL, headline_ts = NULL, setup_steps = '{"channel":"started"}' WHERE id = $1`, [inc.id]);

    await t.slash(`/incident setup ${inc.id}`);
    await t.settle();
    const after = await incident('Squatted name');
    expect(after.channel_id).not.toBe(squatter.id);
    expect(after.channel_name).toBe(`${inc.channel_name}-2`);
  });

  it('a Slack outage during setup: the declarer and #incidents are told, setup_errors is recorded, and the steps finish when Slack answers', async () => {
    t.slack.fail('conversations.create', 'service_unavailable', { times: 1 });
    const { responseId } = await t.slash('/incident declare P1 Slack went away');
    await t.settle();
    const inc = await incident('Slack went away');
    expect(inc.channel_id).toBeNull();
    expect(inc.setup_errors).toEqual({ 'create channel': 'service_unavailable' });
    const told = t.slack.replies(responseId).join('\n');
    expect(told).toContain('create channel: service_unavailable');
    expect(told).toContain('retrying');
    expect(t.slack.messagesIn('incidents').some((m) => m.text.includes(`INC-${inc.id}`) && m.text.includes('create channel'))).toBe(true);
    const job = (await t.db.pool.query(`SELECT status, attempts, last_error FROM jobs WHERE dedupe_key = $1`, [`incident.setup:${inc.id}`])).rows[0];
    expect(job).toMatchObject({ status: 'pending', attempts: 1 });

    // Slack answers again; the retry comes due on its own (no person runs anything).
    t.clock.advance(6_000);
    await t.settle();
    const after = await incident('Slack went away');
    expect(after.channel_id).not.toBeNull();
    expect(after.headline_ts).not.toBeNull();
    expect(after.setup_errors).toEqual({});
    expect(t.slack.messagesIn(after.channel_id).filter(tagged(inc.id, 'headline'))).toHaveLength(1);
    expect(t.slack.messagesIn('incidents').filter(tagged(inc.id, 'announce'))).toHaveLength(1);
    expect(t.slack.replies(responseId).at(-1)).toContain(`INC-${inc.id} declared`);
  });

  it('a setup that ran out of retries during a long outage starts again once Slack answers, and the declarer hears it worked', async () => {
    // The attempt fails while Slack is away; the job runs out of attempts (as after hours of them).
    t.slack.fail('conversations.create', 'service_unavailable', { times: 1 });
    const { responseId } = await t.slash('/incident declare P1 Outage outlasted retries');
    await t.settle();
    const inc = await incident('Outage outlasted retries');
    await t.db.pool.query(`UPDATE jobs SET status = 'failed', attempts = max_attempts WHERE dedupe_key = $1`, [`incident.setup:${inc.id}`]);
    const svc = t.app.services.incidents;
    // Slack still away (auth.test fails too): nothing is re-armed.
    t.slack.fail('auth.test', 'service_unavailable', { times: 1 });
    expect(await retryStuckSetups(svc)).toEqual([]);
    // Slack answers again.
    expect(await retryStuckSetups(svc)).toEqual([inc.id]);
    await t.settle();
    const after = await incident('Outage outlasted retries');
    expect(after.channel_id).not.toBeNull();
    expect(after.setup_errors).toEqual({});
    expect(t.slack.messagesIn(after.channel_id).filter(tagged(inc.id, 'headline'))).toHaveLength(1);
    expect(t.slack.replies(responseId).at(-1)).toContain(`INC-${inc.id} declared`);
    // Done: the next sweep finds nothing.
    expect(await retryStuckSetups(svc)).toEqual([]);
    // The sweep runs on its own every 5 minutes.
    expect(() => t.app.ctx.scheduler.add({ name: 'incidents:setup-retry', cron: '* * * * *', run: async () => {} })).toThrow(/already registered/);
  });
});
