/**
 * What the console shows around an incident's text reads like the channel did: the update
 * form's draft names people instead of `<@U0ALICE>`, the resolved notice is full sentences,
 * the post-mortem names people, and the severity picker tells P0 from P1.
 */
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/chat/interactions.js';
import { runCommand, useConsoleApp } from './support.js';

const c = useConsoleApp('fb_console_docs');
const alice: Actor = { userId: 'U0ALICE', userName: 'alice' };

/** Runs a slash command as the console's HTTP edge does (same invocation, same reply). */
async function run(text: string, channelId: string, actor = alice): Promise<void> {
  await runCommand(c, text, channelId, actor);
}

const texts = async (channelId: string) => (await c.surface.state('U0ALICE')).messages.filter((m) => m.channel === channelId).map((m) => JSON.stringify([m.text, m.blocks, m.file]));

describe('incident text in the console', () => {
  let room: string;

  it('offers P0 and P1 with different meanings in the declare form', async () => {
    const incidents = (await c.surface.channel('incidents'))!.id;
    await run('/incident declare', incidents);
    const modal = await c.surface.modalOf('U0ALICE');
    const select = modal!.view.blocks.flatMap((b) => (b.type === 'input' ? ((b.element as { options?: Array<{ text: { text: string }; value: string }> }).options ?? []) : []));
    // "P1 — major: service down or data at risk": what the level means, past its one-word name.
    const meaning = (v: string) => select.find((o) => o.value === v)!.text.text.replace(/^P\d\W+\w+:\s*/, '');
    expect(meaning('P0')).not.toBe(meaning('P1'));
    await c.surface.closeModal('U0ALICE');
  });

  it("prefills the update form with people's names, not mention markup", async () => {
    const incidents = (await c.surface.channel('incidents'))!.id;
    await run('/incident declare P1 Bad deploy', incidents);
    await expect.poll(async () => (await c.db.pool.query('SELECT channel_id FROM incidents')).rows[0]?.channel_id, { timeout: 45_000 }).toBeTruthy();
    room = (await c.db.pool.query('SELECT channel_id FROM incidents')).rows[0].channel_id;
    await run('/incident update', room);
    const modal = await c.surface.modalOf('U0ALICE');
    const draft = String((modal!.view.blocks.find((b) => b.type === 'input')!.element as { initial_value: string }).initial_value);
    expect(draft).toContain('Incident commander: @alice');
    expect(draft).not.toMatch(/<@|&lt;|&gt;/);
    await c.surface.closeModal('U0ALICE');
  }, 90_000);

  it('ends the resolved notice\'s sentences, and the post-mortem names people as the channel does', async () => {
    await run('/incident resolve Bad deploy rolled back', room);
    await expect.poll(async () => (await texts(room)).join('\n'), { timeout: 45_000 }).toContain('Bad deploy rolled back. A post-mortem will follow.');
    await expect.poll(async () => (await c.surface.state('U0ALICE')).messages.some((m) => m.file?.filename.includes('postmortem')), { timeout: 45_000 }).toBe(true);
    const md = (await c.surface.state('U0ALICE')).messages.find((m) => m.file?.filename.includes('postmortem'))!.file!.content;
    expect(md).toContain('@alice');
    expect(md).not.toContain('U0ALICE');
  }, 90_000);
});
