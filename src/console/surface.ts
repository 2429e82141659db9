import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '../db/pool.js';
import { systemClock, type Clock } from '../clock.js';
import {
  ChatError, type Block, type ChannelRef, type ChatMessage, type ChatSurface, type MessageTag, type ModalView, type PostedMessage,
} from '../chat/surface.js';
import { DEMO_CHANNELS, DEMO_USER_GROUPS, DEMO_USERS, type ConsoleUser, type ConsoleUserGroup } from './config.js';

/** The bot's own user in the console: the author of everything Firebreak posts. */
export const CONSOLE_BOT: ConsoleUser = { id: 'U0FIREBREAK', name: 'firebreak', realName: 'Firebreak' };

/** Arbitrary constant: serialises console writes so revisions commit in order (see write()). */
const CONSOLE_WRITE_LOCK = 727_090;

export interface ConsoleSurfaceOptions {
  users?: ConsoleUser[];
  userGroups?: ConsoleUserGroup[];
  /** Public channels created on first use (idempotent across restarts and replicas). */
  channels?: string[];
  clock?: Clock;
  /** Base URL of Firebreak, for permalinks into the console page. */
  baseUrl?: string;
  /** How long a trigger id may be used to open a modal; Slack allows 3 seconds. */
  triggerTtlMs?: number;
  /** How often a waiting page checks for writes made by other replicas. */
  crossReplicaCheckMs?: number;
}

export interface ConsoleChannel {
  id: string;
  kind: 'public' | 'dm';
  name: string;
  topic: string;
  purpose: string;
  archived: boolean;
  members: string[];
  createdAt: string;
}

export interface ConsoleFile {
  filename: string;
  title: string;
  content: string;
}

export interface ConsoleMessage {
  channel: string;
  ts: string;
  threadTs: string | null;
  author: string;
  text: string;
  blocks: Block[] | null;
  file: ConsoleFile | null;
  /** Set for ephemeral messages: only this user sees them. */
  visibleTo: string | null;
  postedAt: string;
  editedAt: string | null;
  rev: number;
}

export interface ConsoleModal {
  /** Changes whenever a new view is opened, so the page knows to re-render the form. */
  id: number;
  view: ModalView;
}

/** What one user sees: polled by the console page with the last cursor it got. */
export interface ConsoleState {
  cursor: number;
  channels: ConsoleChannel[];
  /** Messages posted or edited after `since`, oldest first. */
  messages: ConsoleMessage[];
  modal: ConsoleModal | null;
}

interface MessageRow {
  channel_id: string;
  ts: string;
  thread_ts: string | null;
  author: string;
  text: string;
  blocks: Block[] | null;
  file: ConsoleFile | null;
  visible_to: string | null;
  posted_at: Date;
  edited_at: Date | null;
  rev: number;
}

const toMessage = (r: MessageRow): ConsoleMessage => ({
  channel: r.channel_id,
  ts: r.ts,
  threadTs: r.thread_ts,
  author: r.author,
  text: r.text,
  blocks: r.blocks,
  file: r.file,
  visibleTo: r.visible_to,
  postedAt: r.posted_at.toISOString(),
  editedAt: r.edited_at?.toISOString() ?? null,
  rev: Number(r.rev),
});

/** The same shape as the Slack surface's message metadata, so one tag means one thing on both. */
function tagMetadata(tag: MessageTag): { event_type: string; event_payload: { incident_id: number; step: string } } {
  return { event_type: 'firebreak_incident_step', event_payload: { incident_id: tag.incidentId, step: tag.step } };
}

const MESSAGE_COLUMNS = 'channel_id, ts, thread_ts, author, text, blocks, file, visible_to, posted_at, edited_at, rev';
/** A first load shows at most this many of the latest messages. */
const INITIAL_MESSAGES = 2000;

function newId(prefix: string): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return prefix + Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

const textOf = (o: unknown): string => (o && typeof o === 'object' && typeof (o as { text?: unknown }).text === 'string' ? (o as { text: string }).text : '');

/**
 * Slack's own limits on messages, checked here so code that only ever met the console
 * fails the same way it would in Slack, not for the first time in production.
 */
function checkMessage(op: string, m: ChatMessage): void {
  const fail = (code: string, why: string): never => {
    throw new ChatError(code, `${op} (${why})`);
  };
  if (!m.text?.trim() && !m.blocks?.length) fail('no_text', 'a message needs text or blocks');
  if ((m.text ?? '').length > 40_000) fail('msg_too_long', 'text is over 40,000 characters');
  if (!m.blocks) return;
  if (m.blocks.length > 50) fail('invalid_blocks', `${m.blocks.length} blocks; Slack allows 50`);
  m.blocks.forEach((b, i) => {
    if (!b || typeof b.type !== 'string') fail('invalid_blocks', `block ${i} has no type`);
    if (b.type === 'header' && textOf(b.text).length > 150) fail('invalid_blocks', `block ${i}: header text over 150 characters`);
    if (b.type === 'section') {
      if (textOf(b.text).length > 3000) fail('invalid_blocks', `block ${i}: section text over 3000 characters`);
      const fields = (b.fields as unknown[] | undefined) ?? [];
      if (fields.length > 10) fail('invalid_blocks', `block ${i}: ${fields.length} fields; Slack allows 10`);
      if (!textOf(b.text) && !fields.length) fail('invalid_blocks', `block ${i}: section needs text or fields`);
    }
    if (b.type === 'actions') {
      const els = b.elements as unknown as Array<Record<string, unknown>>;
      if (els.length > 25) fail('invalid_blocks', `block ${i}: ${els.length} elements; Slack allows 25`);
      for (const e of els) {
        if (e.type === 'button' && textOf(e.text).length > 75) fail('invalid_blocks', `block ${i}: button text over 75 characters`);
        if (typeof e.value === 'string' && e.value.length > 2000) fail('invalid_blocks', `block ${i}: button value over 2000 characters`);
      }
    }
  });
}

function checkView(view: ModalView): void {
  const fail = (why: string): never => {
    throw new ChatError('invalid_arguments', `views.open (${why})`);
  };
  if (view.type !== 'modal') fail('view type must be modal');
  if (!textOf(view.title) || textOf(view.title).length > 24) fail('title must be 1-24 characters');
  if (view.submit && textOf(view.submit).length > 24) fail('submit text over 24 characters');
  if (view.close && textOf(view.close).length > 24) fail('close text over 24 characters');
  if ((view.callback_id ?? '').length > 255) fail('callback_id over 255 characters');
  if ((view.private_metadata ?? '').length > 3000) fail('private_metadata over 3000 characters');
  if (!Array.isArray(view.blocks) || view.blocks.length > 100) fail('a modal has at most 100 blocks');
  if (view.blocks.some((b) => b.type === 'input') && !view.submit) fail('a modal with inputs needs a submit button');
}

function checkChannelName(name: string): void {
  if (!name) throw new ChatError('invalid_name_required', 'conversations.create');
  if (name.length > 80) throw new ChatError('invalid_name_maxlength', 'conversations.create');
  if (!/^[a-z0-9_-]+$/.test(name)) throw new ChatError('invalid_name_specials', 'conversations.create');
}

/**
 * The local console's chat: an in-process Slack stand-in that the same services post to when
 * no Slack tokens are configured. Channels and messages live in PostgreSQL (tables console_*),
 * so history survives restarts and every replica serves the same console.
 */
export class ConsoleSurface implements ChatSurface {
  readonly users: ConsoleUser[];
  readonly userGroups: ConsoleUserGroup[];
  private readonly seedChannels: string[];
  private readonly clock: Clock;
  private readonly baseUrl: string;
  private readonly triggerTtlMs: number;
  private readonly triggers = new Map<string, { user: string; issuedAt: number; used: boolean }>();
  private readonly waiters = new Set<() => void>();
  private readonly crossReplicaCheckMs: number;
  private seeded: Promise<void> | undefined;

  constructor(private readonly pool: pg.Pool, opts: ConsoleSurfaceOptions = {}) {
    this.users = opts.users ?? DEMO_USERS;
    this.userGroups = opts.userGroups ?? DEMO_USER_GROUPS;
    this.seedChannels = opts.channels ?? DEMO_CHANNELS;
    this.clock = opts.clock ?? systemClock;
    this.baseUrl = (opts.baseUrl ?? 'http://localhost:3000').replace(/\/+$/, '');
    this.triggerTtlMs = opts.triggerTtlMs ?? 3000;
    this.crossReplicaCheckMs = opts.crossReplicaCheckMs ?? 2000;
  }

  /** Every console user plus the bot, for rendering names. */
  get directory(): ConsoleUser[] {
    return [CONSOLE_BOT, ...this.users];
  }

  user(id: string): ConsoleUser | undefined {
    return this.directory.find((u) => u.id === id);
  }

  /**
   * Creates the seed channels once. Runs lazily on first use because the surface is built
   * before createApp has applied the migrations.
   */
  ready(): Promise<void> {
    this.seeded ??= this.seed().catch((e: unknown) => {
      this.seeded = undefined;
      throw e;
    });
    return this.seeded;
  }

  private async seed(): Promise<void> {
    for (const name of this.seedChannels) {
      await this.write(async (c, rev) => {
        const id = newId('C');
        const r = await c.query(
          `INSERT INTO console_channels (id, kind, name, rev) VALUES ($1, 'public', $2, $3)
           ON CONFLICT (name) WHERE kind = 'public' DO NOTHING`,
          [id, name, rev],
        );
        if (r.rowCount !== 1) return;
        await c.query(
          'INSERT INTO console_members (channel_id, user_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
          [id, this.directory.map((u) => u.id)],
        );
      });
    }
  }

  /**
   * Runs one write under a transaction-level advisory lock with a fresh revision. Because
   * writers take revisions one at a time and commit before the next takes one, every row a
   * reader can see has a lower revision than any row committed later: "since N" never misses.
   */
  private async write<T>(fn: (c: pg.PoolClient, rev: number) => Promise<T>): Promise<T> {
    const out = await withTransaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [CONSOLE_WRITE_LOCK]);
      const { rows } = await c.query<{ rev: string }>("SELECT nextval('console_rev') AS rev");
      return fn(c, Number(rows[0]!.rev));
    });
    this.changed();
    return out;
  }

  /** Wakes every page waiting for news: this replica's writes reach open pages at once. */
  private changed(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }

  /**
   * Resolves when something after revision `since` may be visible, after `timeoutMs`, or once
   * `stop()` says so (shutdown). This replica's writes wake it at once; another replica's
   * writes are seen by checking the committed revisions every `crossReplicaCheckMs`.
   */
  async waitForChange(since: number, timeoutMs: number, stop: () => boolean = () => false): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!stop() && Date.now() < deadline) {
      let wake!: () => void;
      const woken = new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        this.waiters.add(wake);
      });
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, Math.min(this.crossReplicaCheckMs, deadline - Date.now())));
      });
      const local = await Promise.race([woken, tick]);
      clearTimeout(timer);
      this.waiters.delete(wake);
      if (local || (await this.committedRevision()) > since) return;
    }
  }

  /** The highest revision committed so far; every later commit gets a higher one (see write()). */
  private async committedRevision(c: pg.Pool | pg.PoolClient = this.pool): Promise<number> {
    const { rows } = await c.query<{ rev: string | null }>(
      `SELECT greatest((SELECT max(rev) FROM console_messages), (SELECT max(rev) FROM console_channels),
                       (SELECT max(rev) FROM console_modals)) AS rev`,
    );
    return Number(rows[0]?.rev ?? 0);
  }

  private tsFor(rev: number): string {
    return `${Math.floor(this.clock.now().getTime() / 1000)}.${String(rev % 1_000_000).padStart(6, '0')}`;
  }

  private async channelRow(nameOrId: string): Promise<(ConsoleChannel & { rev: number }) | undefined> {
    await this.ready();
    const key = nameOrId.replace(/^#/, '');
    const { rows } = await this.pool.query(
      `SELECT c.id, c.kind, c.name, c.topic, c.purpose, c.archived, c.created_at, c.rev,
              coalesce(array_agg(m.user_id ORDER BY m.user_id) FILTER (WHERE m.user_id IS NOT NULL), '{}') AS members
         FROM console_channels c LEFT JOIN console_members m ON m.channel_id = c.id
        WHERE c.id = $1 OR (c.kind = 'public' AND c.name = $1)
        GROUP BY c.id`,
      [key],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id, kind: r.kind, name: r.name, topic: r.topic, purpose: r.purpose, archived: r.archived,
      members: r.members, createdAt: (r.created_at as Date).toISOString(), rev: Number(r.rev),
    };
  }

  /** A channel that exists and is open for posting, or the ChatError Slack would give. */
  private async writableChannel(nameOrId: string, op: string): Promise<ConsoleChannel> {
    const ch = (await this.channelRow(nameOrId)) ?? (this.user(nameOrId) ? await this.directChannel(nameOrId) : undefined);
    if (!ch) throw new ChatError('channel_not_found', op);
    if (ch.archived) throw new ChatError('is_archived', op);
    return ch;
  }

  private requireUser(id: string, op: string): ConsoleUser {
    const u = this.user(id);
    if (!u) throw new ChatError('user_not_found', op);
    return u;
  }

  async createChannel(name: string): Promise<ChannelRef> {
    checkChannelName(name);
    await this.ready();
    const id = newId('C');
    const created = await this.write(async (c, rev) => {
      const r = await c.query(
        `INSERT INTO console_channels (id, kind, name, rev) VALUES ($1, 'public', $2, $3)
         ON CONFLICT (name) WHERE kind = 'public' DO NOTHING`,
        [id, name, rev],
      );
      if (r.rowCount !== 1) return false;
      await c.query('INSERT INTO console_members (channel_id, user_id) VALUES ($1, $2)', [id, CONSOLE_BOT.id]);
      return true;
    });
    if (!created) throw new ChatError('name_taken', 'conversations.create');
    return { id, name };
  }

  async findChannel(nameOrId: string): Promise<ChannelRef | undefined> {
    const ch = await this.channelRow(nameOrId);
    if (!ch || ch.archived) return undefined;
    return { id: ch.id, name: ch.name };
  }

  /** Console detail of one channel (members, topic, purpose), archived ones included. */
  async channel(nameOrId: string): Promise<ConsoleChannel | undefined> {
    const ch = await this.channelRow(nameOrId);
    if (!ch) return undefined;
    const { rev: _rev, ...rest } = ch;
    return rest;
  }

  async archiveChannel(nameOrId: string): Promise<void> {
    const ch = await this.writableChannel(nameOrId, 'conversations.archive');
    await this.write((c, rev) => c.query('UPDATE console_channels SET archived = true, rev = $2 WHERE id = $1', [ch.id, rev]));
  }

  private async setChannelText(channel: string, column: 'topic' | 'purpose', value: string): Promise<void> {
    const op = column === 'topic' ? 'conversations.setTopic' : 'conversations.setPurpose';
    if (value.length > 250) throw new ChatError('too_long', op);
    const ch = await this.writableChannel(channel, op);
    await this.write((c, rev) => c.query(`UPDATE console_channels SET ${column} = $2, rev = $3 WHERE id = $1`, [ch.id, value, rev]));
  }

  setTopic(channel: string, topic: string): Promise<void> {
    return this.setChannelText(channel, 'topic', topic);
  }

  setPurpose(channel: string, purpose: string): Promise<void> {
    return this.setChannelText(channel, 'purpose', purpose);
  }

  async invite(channel: string, userIds: string[]): Promise<void> {
    const ch = await this.writableChannel(channel, 'conversations.invite');
    for (const id of userIds) this.requireUser(id, 'conversations.invite');
    if (!userIds.length) return;
    await this.write(async (c, rev) => {
      await c.query('INSERT INTO console_members (channel_id, user_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [ch.id, userIds]);
      await c.query('UPDATE console_channels SET rev = $2 WHERE id = $1', [ch.id, rev]);
    });
  }

  async userGroupMembers(groupId: string): Promise<string[]> {
    const g = this.userGroups.find((x) => x.id === groupId || x.handle === groupId.replace(/^@/, ''));
    if (!g) throw new ChatError('no_such_subteam', 'usergroups.users.list');
    return [...g.members];
  }

  private async insertMessage(
    ch: ConsoleChannel, author: string, message: ChatMessage,
    extra: { threadTs?: string; visibleTo?: string; file?: ConsoleFile; tag?: MessageTag } = {},
  ): Promise<PostedMessage> {
    return this.write(async (c, rev) => {
      let threadTs: string | null = null;
      if (extra.threadTs) {
        const parent = await c.query<{ ts: string; thread_ts: string | null }>(
          'SELECT ts, thread_ts FROM console_messages WHERE channel_id = $1 AND ts = $2 AND visible_to IS NULL',
          [ch.id, extra.threadTs],
        );
        if (!parent.rows[0]) throw new ChatError('thread_not_found', 'chat.postMessage');
        // Replying to a reply lands in the same thread, as in Slack.
        threadTs = parent.rows[0].thread_ts ?? parent.rows[0].ts;
      }
      const ts = this.tsFor(rev);
      await c.query(
        `INSERT INTO console_messages (channel_id, ts, thread_ts, author, text, blocks, file, visible_to, posted_at, rev, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          ch.id, ts, threadTs, author, message.text ?? '', message.blocks ? JSON.stringify(message.blocks) : null,
          extra.file ? JSON.stringify(extra.file) : null, extra.visibleTo ?? null, this.clock.now(), rev,
          extra.tag ? JSON.stringify(tagMetadata(extra.tag)) : null,
        ],
      );
      return { channel: ch.id, ts };
    });
  }

  /**
   * The newest message Firebreak posted with `tag` in the channel (or in the thread of
   * `threadTs`, its parent included, as Slack's conversations.replies returns it): how a
   * resumed setup step in console mode adopts its earlier post.
   */
  async findTagged(channel: string, tag: MessageTag, opts: { threadTs?: string } = {}): Promise<PostedMessage | undefined> {
    await this.ready();
    const ch = await this.channelRow(channel);
    if (!ch) return undefined;
    const { rows } = await this.pool.query<{ ts: string }>(
      `SELECT ts FROM console_messages
        WHERE channel_id = $1 AND author = $2 AND visible_to IS NULL AND metadata @> $3::jsonb
          AND ($4::text IS NULL OR ts = $4 OR thread_ts = $4)
        ORDER BY id DESC LIMIT 1`,
      [ch.id, CONSOLE_BOT.id, JSON.stringify(tagMetadata(tag)), opts.threadTs ?? null],
    );
    return rows[0] ? { channel: ch.id, ts: rows[0].ts } : undefined;
  }

  /** Console channels are all made through this surface. */
  async ownChannel(name: string): Promise<ChannelRef | undefined> {
    return this.findChannel(name);
  }

  async post(channel: string, message: ChatMessage, opts: { threadTs?: string; tag?: MessageTag } = {}): Promise<PostedMessage> {
    checkMessage('chat.postMessage', message);
    const ch = await this.writableChannel(channel, 'chat.postMessage');
    return this.insertMessage(ch, CONSOLE_BOT.id, message, { threadTs: opts.threadTs, tag: opts.tag });
  }

  /**
   * A person's own message typed into the console. `onlyVisibleTo` keeps it private: the
   * console echoes slash commands that way so the typist sees what they ran, as Slack does not.
   */
  async postAs(user: string, channel: string, message: ChatMessage, opts: { threadTs?: string; onlyVisibleTo?: string } = {}): Promise<PostedMessage> {
    this.requireUser(user, 'chat.postMessage');
    checkMessage('chat.postMessage', message);
    const ch = await this.writableChannel(channel, 'chat.postMessage');
    return this.insertMessage(ch, user, message, { threadTs: opts.threadTs, visibleTo: opts.onlyVisibleTo });
  }

  async update(channel: string, ts: string, message: ChatMessage): Promise<void> {
    checkMessage('chat.update', message);
    const ch = await this.writableChannel(channel, 'chat.update');
    await this.write(async (c, rev) => {
      const r = await c.query(
        `UPDATE console_messages SET text = $3, blocks = $4, edited_at = $5, rev = $6
          WHERE channel_id = $1 AND ts = $2 AND visible_to IS NULL AND author = $7`,
        [ch.id, ts, message.text ?? '', message.blocks ? JSON.stringify(message.blocks) : null, this.clock.now(), rev, CONSOLE_BOT.id],
      );
      if (r.rowCount !== 1) throw new ChatError('message_not_found', 'chat.update');
    });
  }

  async postEphemeral(channel: string, user: string, message: ChatMessage): Promise<void> {
    checkMessage('chat.postEphemeral', message);
    this.requireUser(user, 'chat.postEphemeral');
    const ch = await this.writableChannel(channel, 'chat.postEphemeral');
    await this.insertMessage(ch, CONSOLE_BOT.id, message, { visibleTo: user });
  }

  /** The user's direct-message channel with the bot, created on first use. */
  private async directChannel(user: string): Promise<ConsoleChannel> {
    this.requireUser(user, 'conversations.open');
    const existing = await this.pool.query<{ id: string }>("SELECT id FROM console_channels WHERE kind = 'dm' AND name = $1", [user]);
    if (!existing.rows[0]) {
      await this.write(async (c, rev) => {
        const id = 'D' + user.slice(1);
        const r = await c.query(
          `INSERT INTO console_channels (id, kind, name, rev) VALUES ($1, 'dm', $2, $3) ON CONFLICT DO NOTHING`,
          [id, user, rev],
        );
        if (r.rowCount === 1) {
          await c.query('INSERT INTO console_members (channel_id, user_id) VALUES ($1, $2), ($1, $3)', [id, user, CONSOLE_BOT.id]);
        }
      });
    }
    return (await this.channelRow('D' + user.slice(1)))!;
  }

  async postDirect(user: string, message: ChatMessage): Promise<PostedMessage> {
    checkMessage('chat.postMessage', message);
    await this.ready();
    const ch = await this.directChannel(user);
    return this.insertMessage(ch, CONSOLE_BOT.id, message);
  }

  async openDirect(user: string): Promise<string> {
    await this.ready();
    return (await this.directChannel(user)).id;
  }

  /** A trigger id for one interaction of `user`; openModal accepts it once, within the TTL. */
  issueTrigger(user: string): string {
    this.requireUser(user, 'trigger');
    const now = Date.now();
    for (const [id, t] of this.triggers) if (now - t.issuedAt > this.triggerTtlMs * 10) this.triggers.delete(id);
    const id = `${now}.${randomBytes(8).toString('hex')}`;
    this.triggers.set(id, { user, issuedAt: now, used: false });
    return id;
  }

  async openModal(triggerId: string, view: ModalView): Promise<void> {
    const t = this.triggers.get(triggerId);
    if (!t) throw new ChatError('invalid_trigger_id', 'views.open');
    if (t.used) throw new ChatError('exchanged_trigger_id', 'views.open');
    if (Date.now() - t.issuedAt > this.triggerTtlMs) throw new ChatError('expired_trigger_id', 'views.open');
    checkView(view);
    t.used = true;
    await this.ready();
    await this.write((c, rev) =>
      c.query(
        `INSERT INTO console_modals (user_id, view, opened_at, rev) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET view = EXCLUDED.view, opened_at = EXCLUDED.opened_at, rev = EXCLUDED.rev`,
        [t.user, JSON.stringify(view), this.clock.now(), rev],
      ),
    );
  }

  async modalOf(user: string): Promise<ConsoleModal | null> {
    await this.ready();
    const { rows } = await this.pool.query<{ view: ModalView; rev: string }>('SELECT view, rev FROM console_modals WHERE user_id = $1', [user]);
    return rows[0] ? { id: Number(rows[0].rev), view: rows[0].view } : null;
  }

  /** Closes the user's modal; only if it is still `modalId` when given (a newer one stays open). */
  async closeModal(user: string, modalId?: number): Promise<void> {
    await this.ready();
    await this.pool.query('DELETE FROM console_modals WHERE user_id = $1 AND ($2::bigint IS NULL OR rev = $2)', [user, modalId ?? null]);
    this.changed();
  }

  async uploadFile(channel: string, file: ConsoleFile, opts: { threadTs?: string } = {}): Promise<void> {
    if (!file.filename) throw new ChatError('invalid_arguments', 'files.upload (a file needs a name)');
    if (Buffer.byteLength(file.content) > 5 * 1024 * 1024) throw new ChatError('file_too_large', 'files.upload (over 5 MiB)');
    const ch = await this.writableChannel(channel, 'files.upload');
    const title = file.title || file.filename;
    await this.insertMessage(ch, CONSOLE_BOT.id, { text: title }, { threadTs: opts.threadTs, file: { ...file, title } });
  }

  async findUpload(channel: string, filename: string): Promise<boolean> {
    await this.ready();
    const ch = await this.findChannel(channel);
    if (!ch) return false;
    const { rowCount } = await this.pool.query(`SELECT 1 FROM console_messages WHERE channel_id = $1 AND file->>'filename' = $2 LIMIT 1`, [ch.id, filename]);
    return (rowCount ?? 0) > 0;
  }

  async message(channel: string, ts: string): Promise<ConsoleMessage | undefined> {
    await this.ready();
    const { rows } = await this.pool.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM console_messages WHERE channel_id = $1 AND ts = $2`, [channel, ts]);
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  async permalink(channel: string, ts: string): Promise<string | undefined> {
    const m = await this.message(channel, ts);
    if (!m) return undefined;
    return `${this.baseUrl}/console?channel=${encodeURIComponent(channel)}&ts=${encodeURIComponent(ts)}`;
  }

  async messageText(channel: string, ts: string): Promise<string | undefined> {
    return (await this.message(channel, ts))?.text;
  }

  async displayName(userId: string): Promise<string | undefined> {
    return this.user(userId)?.name;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1 FROM console_channels LIMIT 1');
  }

  /**
   * Everything `user` may see that changed after revision `since` (0 = the latest history):
   * all public channels, the user's own DM, messages except other people's ephemerals, and
   * the user's open modal.
   */
  async state(user: string, since = 0): Promise<ConsoleState> {
    await this.ready();
    const c = await this.pool.connect();
    try {
      // One snapshot for channels, messages and modal: a message never arrives before its channel.
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const channels = await c.query(
        `SELECT c.id, c.kind, c.name, c.topic, c.purpose, c.archived, c.created_at,
                coalesce(array_agg(m.user_id ORDER BY m.user_id) FILTER (WHERE m.user_id IS NOT NULL), '{}') AS members
           FROM console_channels c LEFT JOIN console_members m ON m.channel_id = c.id
          WHERE c.kind = 'public' OR c.name = $1
          GROUP BY c.id ORDER BY c.kind DESC, c.created_at, c.name`,
        [user],
      );
      const cols = MESSAGE_COLUMNS.split(', ').map((x) => 'm.' + x).join(', ');
      const visible = `(m.visible_to IS NULL OR m.visible_to = $1) AND (c.kind = 'public' OR c.name = $1)`;
      const messages = await c.query<MessageRow>(
        since > 0
          ? `SELECT ${cols} FROM console_messages m JOIN console_channels c ON c.id = m.channel_id
              WHERE m.rev > $2 AND ${visible} ORDER BY m.id`
          : `SELECT * FROM (SELECT ${cols}, m.id FROM console_messages m JOIN console_channels c ON c.id = m.channel_id
              WHERE ${visible} ORDER BY m.id DESC LIMIT $2) x ORDER BY id`,
        [user, since > 0 ? since : INITIAL_MESSAGES],
      );
      const modal = await c.query<{ view: ModalView; rev: string }>('SELECT view, rev FROM console_modals WHERE user_id = $1', [user]);
      // Everything committed up to here is in this snapshot, and later commits get higher
      // revisions (write()): so the next "since" skips nothing, including rows this user never sees.
      const committed = await this.committedRevision(c);
      await c.query('COMMIT');
      return {
        cursor: Math.max(since, committed),
        channels: channels.rows.map((r) => ({
          id: r.id, kind: r.kind, name: r.name, topic: r.topic, purpose: r.purpose, archived: r.archived,
          members: r.members, createdAt: (r.created_at as Date).toISOString(),
        })),
        messages: messages.rows.map(toMessage),
        modal: modal.rows[0] ? { id: Number(modal.rows[0].rev), view: modal.rows[0].view } : null,
      };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }
}
