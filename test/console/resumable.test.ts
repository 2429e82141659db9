/**
 * The console surface keeps message metadata as Slack does, so war-room steps run in console
 * mode are resumable: a re-run or repaired setup adopts the channel, headline, comms drafts and
 * announcement its first run posted instead of posting them again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { CONSOLE_BOT, ConsoleSurface } from '../../src/console/surface.js';
import type { Actor } from '../../src/chat/interactions.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let app: FirebreakApp;
let surface: ConsoleSurface;
const alice: Actor = { userId: 'U0ALICE', userName: 'alice' };

/** Runs a slash command as the console's HTTP edge does (same invocation, same reply). */
async function run(text: string, channelId: string, requestKey = `test:${Math.random()}`): Promise<void> {
  const [command, ...rest] = text.split(' ');
  const triggerId = surface.issueTrigger(alice.userId);
  await app.interactions.command(
    { command: command!, text: rest.join(' '), actor: alice, channelId, triggerId, requestKey },
    { ephemeral: async (m) => surface.postEphemeral(channelId, alice.userId, typeof m === 'string' ? { text: m } : m), openModal: (v) => surface.openModal(triggerId, v) },
  );
}

const incident = async (title: string) => (await db.pool.query('SELECT * FROM incidents WHERE title = $1', [title])).rows[0];
/** Every message the bot posted (not ephemeral), with the step it was tagged with. */
const botPosts = async () =>
  (await db.pool.query<{ channel_id: string; ts: string; step: string | null }>(
    `SELECT channel_id, ts, metadata->'event_payload'->>'step' AS step FROM console_messages WHERE author = $1 AND visible_to IS NULL ORDER BY id`,
    [CONSOLE_BOT.id],
  )).rows;

beforeAll(async () => {
  db = await createTestDatabase('fb_console_resume');
  const config = configSchema.parse({ databaseUrl: db.url, port: 0, logLevel: 'silent' });
  surface = new ConsoleSurface(db.pool);
  app = await createApp({ config, pool: db.pool, log: createLogger({ level: 'silent' }), chat: surface });
}, 60_000);
afterAll(async () => {
  await app?.stop(1000);
  await db?.drop();
});

describe('console war rooms are resumable', () => {
  it('stores the tag with a post and finds it by channel, and within a thread', async () => {
    const ops = (await surface.channel('ops'))!.id;
    const head = await surface.post(ops, { text: 'headline' }, { tag: { incidentId: 7, step: 'headline' } });
    const reply = await surface.post(ops, { text: 'draft' }, { threadTs: head.ts, tag: { incidentId: 7, step: 'comms:internal' } });
    await surface.post(ops, { text: 'untagged' });
    expect(await surface.findTagged('ops', { incidentId: 7, step: 'headline' })).toEqual(head);
    expect(await surface.findTagged(ops, { incidentId: 7, step: 'comms:internal' }, { threadTs: head.ts })).toEqual(reply);
    // Another incident, another step, or another thread is not a match.
    expect(await surface.findTagged(ops, { incidentId: 8, step: 'headline' })).toBeUndefined();
    expect(await surface.findTagged(ops, { incidentId: 7, step: 'announce' })).toBeUndefined();
    expect(await surface.findTagged(ops, { incidentId: 7, step: 'comms:internal' }, { threadTs: '1.000001' })).toBeUndefined();
    // A person's message can never be taken for one of Firebreak's (postAs stores no metadata).
    await surface.postAs('U0ALICE', ops, { text: 'headline' });
    expect(await surface.findTagged(ops, { incidentId: 7, step: 'headline' })).toEqual(head);
  });

  it('/incident setup adopts the channel, headline, drafts and announcement a lost run posted, and posts nothing new', async () => {
    const incidents = (await surface.channel('incidents'))!.id;
    await run('/incident declare P1 Console lost records', incidents);
    await expect.poll(async () => (await incident('Console lost records'))?.setup_steps?.announce, { timeout: 45_000 }).toBe('done');
    const inc = await incident('Console lost records');
    const before = await botPosts();
    const steps = before.filter((p) => p.step).map((p) => p.step);
    expect(steps).toEqual(expect.arrayContaining(['headline', 'announce']));
    expect(steps.some((s) => s!.startsWith('comms:'))).toBe(true);

    // What a run that died right after its chat calls leaves: only the intents were saved.
    await db.pool.query(
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
    const { rows: channels } = await db.pool.query(`SELECT name FROM console_channels WHERE name LIKE $1`, [`${inc.channel_name}%`]);
    expect(channels).toEqual([{ name: inc.channel_name }]);
    // Nothing tagged was posted twice: the same bot posts (a headline refresh edits in place).
    const again = (await botPosts()).filter((p) => p.step);
    expect(again).toEqual(before.filter((p) => p.step));
  }, 90_000);
});
