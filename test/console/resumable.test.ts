/**
 * The console surface keeps message metadata as Slack does, so war-room steps run in console
 * mode are resumable: a re-run or repaired setup adopts the channel, headline, comms drafts and
 * announcement its first run posted instead of posting them again.
 */
import { describe, expect, it } from 'vitest';
import { CONSOLE_BOT } from '../../src/console/surface.js';
import { setupKey } from '../../src/incidents/setup.js';
import type { Actor } from '../../src/chat/interactions.js';
import { runCommand, useConsoleApp } from './support.js';

const c = useConsoleApp('fb_console_resume');
const alice: Actor = { userId: 'U0ALICE', userName: 'alice' };

/** Runs a slash command as the console's HTTP edge does (same invocation, same reply). */
async function run(text: string, channelId: string, requestKey = `test:${Math.random()}`): Promise<void> {
  await runCommand(c, text, channelId, alice, requestKey);
}

const incident = async (title: string) => (await c.db.pool.query('SELECT * FROM incidents WHERE title = $1', [title])).rows[0];
/** Every message the bot posted (not ephemeral), with the step it was tagged with. */
const botPosts = async () =>
  (await c.db.pool.query<{ channel_id: string; ts: string; step: string | null }>(
    `SELECT channel_id, ts, metadata->'event_payload'->>'step' AS step FROM console_messages WHERE author = $1 AND visible_to IS NULL ORDER BY id`,
    [CONSOLE_BOT.id],
  )).rows;

describe('console war rooms are resumable', () => {
  it('stores the tag with a post and finds it by channel, and within a thread', async () => {
    const ops = (await c.surface.channel('ops'))!.id;
    const head = await c.surface.post(ops, { text: 'headline' }, { tag: { incidentId: 7, step: 'headline' } });
    const reply = await c.surface.post(ops, { text: 'draft' }, { threadTs: head.ts, tag: { incidentId: 7, step: 'comms:internal' } });
    await c.surface.post(ops, { text: 'untagged' });
    expect(await c.surface.findTagged('ops', { incidentId: 7, step: 'headline' })).toEqual(head);
    expect(await c.surface.findTagged(ops, { incidentId: 7, step: 'comms:internal' }, { threadTs: head.ts })).toEqual(reply);
    // Another incident, another step, or another thread is not a match.
    expect(await c.surface.findTagged(ops, { incidentId: 8, step: 'headline' })).toBeUndefined();
    expect(await c.surface.findTagged(ops, { incidentId: 7, step: 'announce' })).toBeUndefined();
    expect(await c.surface.findTagged(ops, { incidentId: 7, step: 'comms:internal' }, { threadTs: '1.000001' })).toBeUndefined();
    // A person's message can never be taken for one of Firebreak's (postAs stores no metadata).
    await c.surface.postAs('U0ALICE', ops, { text: 'headline' });
    expect(await c.surface.findTagged(ops, { incidentId: 7, step: 'headline' })).toEqual(head);
  });

  it('/incident setup adopts the channel, headline, drafts and announcement a lost run posted, and posts nothing new', async () => {
    const incidents = (await c.surface.channel('incidents'))!.id;
    await run('/incident declare P1 Console lost records', incidents);
    await expect.poll(async () => (await incident('Console lost records'))?.setup_steps?.announce, { timeout: 45_000 }).toBe('done');
    const inc = await incident('Console lost records');
    // The declare's setup job ends after its last step (page, errors, the job row): until then
    // `/incident setup` rightly answers that a setup is running, and the repair would not run.
    await expect.poll(async () => (await c.db.pool.query('SELECT status FROM jobs WHERE dedupe_key = $1', [setupKey(inc.id)])).rows[0]?.status, { timeout: 45_000 }).toBe('done');
    const before = await botPosts();
    const steps = before.filter((p) => p.step).map((p) => p.step);
    expect(steps).toEqual(expect.arrayContaining(['headline', 'announce']));
    expect(steps.some((s) => s!.startsWith('comms:'))).toBe(true);

    // What a run that died right after its chat calls leaves: only the intents were saved.
    await c.db.pool.query(
      `UPDATE incidents SET channel_id = NULL, headline_ts = NULL, setup_errors = '{}',
              setup_steps = (SELECT jsonb_object_agg(k, 'started') FROM jsonb_object_keys(setup_steps) k) WHERE id = $1`,
      [inc.id],
    );

    await run(`/incident setup ${inc.id}`, incidents);
    await expect.poll(async () => (await incident('Console lost records'))?.headline_ts, { timeout: 45_000 }).toBe(inc.headline_ts);
    const after = await incident('Console lost records');
    expect(after.channel_id).toBe(inc.channel_id);
    expect(after.channel_name).toBe(inc.channel_name);
    expect(Object.values(after.setup_steps as Record<string, string>).every((s) => s === 'done')).toBe(true);
    const { rows: channels } = await c.db.pool.query(`SELECT name FROM console_channels WHERE name LIKE $1`, [`${inc.channel_name}%`]);
    expect(channels).toEqual([{ name: inc.channel_name }]);
    // Nothing tagged was posted twice: the same bot posts (a headline refresh edits in place).
    const again = (await botPosts()).filter((p) => p.step);
    expect(again).toEqual(before.filter((p) => p.step));
  }, 90_000);
});
