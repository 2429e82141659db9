import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { ChatError, type ModalView } from '../../src/chat/surface.js';
import { CONSOLE_BOT, ConsoleSurface } from '../../src/console/surface.js';
import { consoleConfigSchema } from '../../src/console/config.js';
import { section } from '../../src/templates/blocks.js';

let db: TestDatabase;
let chat: ConsoleSurface;

beforeAll(async () => {
  db = await createTestDatabase('fb_console');
  chat = new ConsoleSurface(db.pool, { baseUrl: 'http://fb.test:3000/' });
});
afterAll(() => db.drop());

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof ChatError ? e.code : `not a ChatError: ${String(e)}`),
  );

const modal = (title = 'Declare incident'): ModalView => ({
  type: 'modal',
  callback_id: 'declare',
  title: { type: 'plain_text', text: title },
  submit: { type: 'plain_text', text: 'Declare' },
  blocks: [{ type: 'input', block_id: 'title', label: { type: 'plain_text', text: 'Title' }, element: { type: 'plain_text_input', action_id: 'v' } }],
});

describe('the console chat surface', () => {
  it('starts with the demo channels, every demo user and the bot in them', async () => {
    const s = await chat.state('U0ALICE');
    expect(s.channels.map((c) => c.name)).toEqual(['incidents', 'ops', 'approvals', 'alerts']);
    const incidents = s.channels.find((c) => c.name === 'incidents')!;
    expect(incidents.members).toEqual(['U0ALICE', 'U0BOB', 'U0CAROL', CONSOLE_BOT.id].sort());
    expect(await chat.findChannel('#incidents')).toEqual({ id: incidents.id, name: 'incidents' });
    expect(await chat.findChannel(incidents.id)).toEqual({ id: incidents.id, name: 'incidents' });
    expect(await chat.findChannel('nope')).toBeUndefined();
  });

  it('seeds once even when two replicas start on the same database', async () => {
    const other = new ConsoleSurface(db.pool);
    const third = new ConsoleSurface(db.pool);
    await Promise.all([other.ready(), third.ready()]);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM console_channels WHERE name = 'ops'");
    expect(rows[0].n).toBe(1);
  });

  it('creates channels with topic, purpose and members, and refuses taken names, archived ones included', async () => {
    const ch = await chat.createChannel('inc-20260301-db-down');
    expect(ch.id).toMatch(/^C[A-Z0-9]+$/);
    await chat.setTopic(ch.id, 'P1 Database down');
    await chat.setPurpose(ch.id, 'Coordinate the response');
    await chat.invite(ch.id, ['U0ALICE', 'U0BOB']);
    await chat.invite(ch.id, ['U0ALICE']);
    expect(await chat.channel(ch.id)).toMatchObject({
      name: 'inc-20260301-db-down', topic: 'P1 Database down', purpose: 'Coordinate the response',
      members: [CONSOLE_BOT.id, 'U0ALICE', 'U0BOB'].sort(), archived: false,
    });
    expect(await code(chat.createChannel('inc-20260301-db-down'))).toBe('name_taken');

    const old = await chat.createChannel('inc-old');
    await chat.archiveChannel(old.id);
    expect(await code(chat.createChannel('inc-old'))).toBe('name_taken');
    expect(await chat.findChannel('inc-old')).toBeUndefined();
    expect(await code(chat.post(old.id, { text: 'hello?' }))).toBe('is_archived');
  });

  it('refuses channel names Slack would refuse and unknown users', async () => {
    expect(await code(chat.createChannel('Has Spaces'))).toBe('invalid_name_specials');
    expect(await code(chat.createChannel('x'.repeat(81)))).toBe('invalid_name_maxlength');
    expect(await code(chat.createChannel(''))).toBe('invalid_name_required');
    expect(await code(chat.invite('ops', ['U0NOBODY']))).toBe('user_not_found');
    expect(await code(chat.post('no-such-channel', { text: 'x' }))).toBe('channel_not_found');
  });

  it('posts, threads and updates messages in place; the page sees each change once via the cursor', async () => {
    const before = await chat.state('U0BOB');
    const blocks = [section('*Status:* investigating')];
    const head = await chat.post('ops', { text: 'Status: investigating', blocks });
    const reply = await chat.post('ops', { text: 'first update' }, { threadTs: head.ts });
    const nested = await chat.post('ops', { text: 'reply to a reply' }, { threadTs: reply.ts });
    expect(await code(chat.post('ops', { text: 'x' }, { threadTs: '1.000000' }))).toBe('thread_not_found');

    const after = await chat.state('U0BOB', before.cursor);
    expect(after.messages.map((m) => [m.text, m.threadTs])).toEqual([
      ['Status: investigating', null],
      ['first update', head.ts],
      ['reply to a reply', head.ts],
    ]);
    expect(after.messages[0]!.blocks).toEqual(blocks);
    expect(after.messages[0]!.author).toBe(CONSOLE_BOT.id);

    await chat.update('ops', head.ts, { text: 'Status: resolved' });
    const edited = await chat.state('U0BOB', after.cursor);
    expect(edited.messages).toHaveLength(1);
    expect(edited.messages[0]).toMatchObject({ ts: head.ts, text: 'Status: resolved', blocks: null });
    expect(edited.messages[0]!.editedAt).not.toBeNull();
    expect((await chat.state('U0BOB', edited.cursor)).messages).toEqual([]);

    expect(await chat.messageText(head.channel, nested.ts)).toBe('reply to a reply');
    expect(await chat.permalink(head.channel, head.ts)).toBe(`http://fb.test:3000/console?channel=${head.channel}&ts=${head.ts}`);
    expect(await code(chat.update('ops', '9.999999', { text: 'x' }))).toBe('message_not_found');
  });

  it('misses nothing when many writers race a polling reader', async () => {
    let cursor = (await chat.state('U0CAROL')).cursor;
    const seen = new Set<string>();
    const writers = Promise.all(Array.from({ length: 30 }, (_, i) => chat.post('alerts', { text: `race ${i}` })));
    let done = false;
    void writers.then(() => (done = true));
    while (!done) {
      const s = await chat.state('U0CAROL', cursor);
      s.messages.forEach((m) => seen.add(m.text));
      cursor = s.cursor;
    }
    (await chat.state('U0CAROL', cursor)).messages.forEach((m) => seen.add(m.text));
    expect([...seen].filter((t) => t.startsWith('race ')).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `race ${i}`).sort());
  });

  it('shows ephemeral messages only to their user, and DMs only to their owner', async () => {
    const start = await chat.state('U0ALICE');
    await chat.postEphemeral('incidents', 'U0ALICE', { text: 'only for alice' });
    const dm = await chat.postDirect('U0BOB', { text: 'you are on call' });
    expect(dm.channel).toBe('D0BOB');
    await chat.postDirect('U0BOB', { text: 'second DM, same channel' });

    const alice = await chat.state('U0ALICE', start.cursor);
    expect(alice.messages.map((m) => m.text)).toEqual(['only for alice']);
    expect(alice.messages[0]!.visibleTo).toBe('U0ALICE');
    expect(alice.channels.some((c) => c.kind === 'dm')).toBe(false);

    const bob = await chat.state('U0BOB', start.cursor);
    expect(bob.messages.map((m) => m.text)).toEqual(['you are on call', 'second DM, same channel']);
    expect(bob.channels.filter((c) => c.kind === 'dm').map((c) => c.id)).toEqual(['D0BOB']);
    expect(await code(chat.postEphemeral('incidents', 'U0NOBODY', { text: 'x' }))).toBe('user_not_found');
    expect(await code(chat.postDirect('U0NOBODY', { text: 'x' }))).toBe('user_not_found');
  });

  it('shows uploaded files with their content', async () => {
    const start = await chat.state('U0ALICE');
    await chat.uploadFile('incidents', { filename: 'postmortem-42.md', title: 'Post-mortem #42', content: '# Summary\n\nThe disk filled up.' });
    const s = await chat.state('U0ALICE', start.cursor);
    expect(s.messages[0]).toMatchObject({
      text: 'Post-mortem #42',
      file: { filename: 'postmortem-42.md', title: 'Post-mortem #42', content: '# Summary\n\nThe disk filled up.' },
    });
    // A resumed upload looks for the file first (by exact name, in that channel only).
    expect(await chat.findUpload('incidents', 'postmortem-42.md')).toBe(true);
    expect(await chat.findUpload('incidents', 'postmortem-43.md')).toBe(false);
    expect(await chat.findUpload('ops', 'postmortem-42.md')).toBe(false);
  });

  it('opens a modal for the user whose interaction issued the trigger, once', async () => {
    const trigger = chat.issueTrigger('U0CAROL');
    await chat.openModal(trigger, modal());
    expect((await chat.state('U0CAROL')).modal?.view.callback_id).toBe('declare');
    expect((await chat.state('U0ALICE')).modal).toBeNull();
    expect(await code(chat.openModal(trigger, modal()))).toBe('exchanged_trigger_id');
    expect(await code(chat.openModal('made-up', modal()))).toBe('invalid_trigger_id');
    expect(await code(chat.openModal(chat.issueTrigger('U0CAROL'), modal('A title much longer than Slack allows')))).toBe('invalid_arguments');

    const first = (await chat.modalOf('U0CAROL'))!;
    await chat.openModal(chat.issueTrigger('U0CAROL'), modal('Second'));
    await chat.closeModal('U0CAROL', first.id);
    expect((await chat.modalOf('U0CAROL'))?.view.title.text).toBe('Second');
    await chat.closeModal('U0CAROL');
    expect(await chat.modalOf('U0CAROL')).toBeNull();
  });

  it('refuses expired trigger ids like Slack does', async () => {
    const quick = new ConsoleSurface(db.pool, { triggerTtlMs: 0 });
    const trigger = quick.issueTrigger('U0ALICE');
    await new Promise((r) => setTimeout(r, 5));
    expect(await code(quick.openModal(trigger, modal()))).toBe('expired_trigger_id');
  });

  it('refuses messages Slack would refuse', async () => {
    expect(await code(chat.post('ops', { text: '' }))).toBe('no_text');
    expect(await code(chat.post('ops', { text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }))).toBe('invalid_blocks');
    expect(await code(chat.post('ops', { text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] }))).toBe('invalid_blocks');
  });

  it('answers user group membership from its configured list', async () => {
    expect(await chat.userGroupMembers('S0ONCALL')).toEqual(['U0ALICE', 'U0BOB']);
    expect(await chat.userGroupMembers('@dba')).toEqual(['U0CAROL']);
    expect(await code(chat.userGroupMembers('S0NOPE'))).toBe('no_such_subteam');
  });

  it('validates the console config: group members must be console users', () => {
    expect(consoleConfigSchema.parse(undefined).users.map((u) => u.name)).toEqual(['alice', 'bob', 'carol']);
    const bad = consoleConfigSchema.safeParse({ users: [{ id: 'U0ZED', name: 'zed' }], userGroups: [{ id: 'S0X', handle: 'x', members: ['U0ALICE'] }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe('U0ALICE is not one of console.users');
  });
});
