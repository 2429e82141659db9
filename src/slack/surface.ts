import { ChatError, type ChannelRef, type ChatMessage, type ChatSurface, type MessageTag, type ModalView, type PostedMessage } from '../chat/surface.js';
import type { SlackClient } from './client.js';
import { decodeSlackText } from '../templates/blocks.js';

const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;
/** Slack message metadata type for messages that are steps of an incident's setup. */
const SETUP_EVENT = 'firebreak_incident_step';
/** How far back a resumed step looks for a message it may have posted (pages of 200). */
const HISTORY_PAGES = 5;

interface HistoryMessage {
  ts?: string;
  files?: { name?: string }[];
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

const isTagged = (m: HistoryMessage, tag: MessageTag) =>
  m.metadata?.event_type === SETUP_EVENT && Number(m.metadata.event_payload?.incident_id) === tag.incidentId && m.metadata.event_payload?.step === tag.step;

/** Turns @slack/web-api's errors into ChatError with Slack's own error string. */
async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as { code?: string; data?: { error?: string }; message?: string };
    if (err.data?.error) throw new ChatError(err.data.error, operation, err.data.error === 'ratelimited');
    if (err.code === 'slack_webapi_rate_limited_error') throw new ChatError('ratelimited', operation, true);
    if (err.code === 'slack_webapi_request_error' || err.code === 'slack_webapi_http_error') {
      throw new ChatError(err.message?.includes('timeout') ? 'timeout' : 'slack_unreachable', operation, true);
    }
    throw new ChatError(err.message ?? 'unknown_error', operation);
  }
}

/** ChatSurface over the Slack Web API. */
export class SlackSurface implements ChatSurface {
  private channelIds = new Map<string, ChannelRef>();
  private botUserId: Promise<string> | undefined;
  private names = new Map<string, string>();

  /**
   * `once` sends tagged posts without the client's automatic retries (see createSlackClient):
   * a tagged post is found again by its tag, so a failed one is retried by its caller after
   * looking, never re-sent blind. Without it tagged posts use `client`.
   */
  constructor(private client: SlackClient, private once: SlackClient = client) {}

  async createChannel(name: string): Promise<ChannelRef> {
    const r = await call('conversations.create', () => this.client.conversations.create({ name, is_private: false }));
    const ref = { id: r.channel!.id!, name: r.channel!.name ?? name };
    this.channelIds.set(ref.name, ref);
    return ref;
  }

  async findChannel(nameOrId: string): Promise<ChannelRef | undefined> {
    const key = nameOrId.replace(/^#/, '');
    if (CHANNEL_ID.test(key)) return { id: key, name: key };
    const cached = this.channelIds.get(key);
    if (cached) return cached;
    let cursor: string | undefined;
    do {
      const r = await call('conversations.list', () =>
        this.client.conversations.list({ limit: 200, exclude_archived: true, types: 'public_channel,private_channel', cursor }),
      );
      for (const c of r.channels ?? []) if (c.id && c.name) this.channelIds.set(c.name, { id: c.id, name: c.name });
      const hit = this.channelIds.get(key);
      if (hit) return hit;
      cursor = r.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return undefined;
  }

  async setTopic(channel: string, topic: string): Promise<void> {
    await call('conversations.setTopic', () => this.client.conversations.setTopic({ channel, topic }));
  }

  async setPurpose(channel: string, purpose: string): Promise<void> {
    await call('conversations.setPurpose', () => this.client.conversations.setPurpose({ channel, purpose }));
  }

  async invite(channel: string, userIds: string[]): Promise<void> {
    // Slack takes at most 1000 users per call.
    for (let i = 0; i < userIds.length; i += 1000) {
      try {
        await call('conversations.invite', () => this.client.conversations.invite({ channel, users: userIds.slice(i, i + 1000).join(',') }));
      } catch (e) {
        if (e instanceof ChatError && (e.code === 'already_in_channel' || e.code === 'cant_invite_self')) continue;
        throw e;
      }
    }
  }

  async userIdentity(userId: string): Promise<{ name: string; email?: string } | undefined> {
    const r = await call('users.info', () => this.client.users.info({ user: userId }));
    const u = r.user;
    if (!u) return undefined;
    const name = u.name || u.profile?.display_name || u.real_name || userId;
    return { name, ...(u.profile?.email ? { email: u.profile.email } : {}) };
  }

  async userGroupMembers(groupId: string): Promise<string[]> {
    const r = await call('usergroups.users.list', () => this.client.usergroups.users.list({ usergroup: groupId }));
    return r.users ?? [];
  }

  async post(channel: string, message: ChatMessage, opts: { threadTs?: string; tag?: MessageTag } = {}): Promise<PostedMessage> {
    const metadata = opts.tag ? { event_type: SETUP_EVENT, event_payload: { incident_id: opts.tag.incidentId, step: opts.tag.step } } : undefined;
    const args = { channel, text: message.text, blocks: message.blocks, thread_ts: opts.threadTs, unfurl_links: false, ...(metadata ? { metadata } : {}) };
    const send = () => call('chat.postMessage', () => (metadata ? this.postOnce(args) : this.client.chat.postMessage(args)));
    let r;
    try {
      r = await send();
    } catch (e) {
      // Public channels the bot has not joined (e.g. #incidents): join once, then post.
      if (!(e instanceof ChatError) || e.code !== 'not_in_channel') throw e;
      await call('conversations.join', () => this.client.conversations.join({ channel }));
      r = await send();
    }
    return { channel: r.channel ?? channel, ts: r.ts! };
  }

  /**
   * One tagged post, repeated only after a 429 (Slack did not take it): any other failure may
   * have posted, so it goes back to the caller, whose retry looks for the tag first.
   */
  private async postOnce(args: Parameters<SlackClient['chat']['postMessage']>[0]) {
    for (let limited = 0; ; limited++) {
      try {
        return await this.once.chat.postMessage(args);
      } catch (e) {
        const err = e as { code?: string; retryAfter?: number };
        if (err.code !== 'slack_webapi_rate_limited_error' || limited >= 3) throw e;
        await new Promise((r) => setTimeout(r, Math.min(30, Math.max(1, err.retryAfter ?? 1)) * 1000));
      }
    }
  }

  async findTagged(channel: string, tag: MessageTag, opts: { threadTs?: string } = {}): Promise<PostedMessage | undefined> {
    const hit = await this.searchHistory(channel, (m) => isTagged(m, tag), opts.threadTs);
    return hit?.ts ? { channel, ts: hit.ts } : undefined;
  }

  async findUpload(channel: string, filename: string): Promise<boolean> {
    return !!(await this.searchHistory(channel, (m) => !!m.files?.some((f) => f.name === filename)));
  }

  /** The newest recent message (or thread reply) that `match` accepts, looking back HISTORY_PAGES pages. */
  private async searchHistory(channel: string, match: (m: HistoryMessage) => boolean, threadTs?: string): Promise<HistoryMessage | undefined> {
    let cursor: string | undefined;
    for (let page = 0; page < HISTORY_PAGES; page++) {
      const r = threadTs
        ? await call('conversations.replies', () => this.client.conversations.replies({ channel, ts: threadTs, include_all_metadata: true, limit: 200, cursor }))
        : await call('conversations.history', () => this.client.conversations.history({ channel, include_all_metadata: true, limit: 200, cursor }));
      const hit = (r.messages as HistoryMessage[] | undefined)?.find(match);
      if (hit) return hit;
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    return undefined;
  }

  async ownChannel(name: string): Promise<ChannelRef | undefined> {
    this.channelIds.delete(name);
    const found = await this.findChannel(name);
    if (!found) return undefined;
    const info = await call('conversations.info', () => this.client.conversations.info({ channel: found.id }));
    this.botUserId ??= call('auth.test', () => this.client.auth.test()).then((r) => r.user_id ?? '');
    const me = await this.botUserId.catch((e: unknown) => {
      this.botUserId = undefined;
      throw e;
    });
    if (info.channel?.is_archived || !me || info.channel?.creator !== me) return undefined;
    return found;
  }

  async update(channel: string, ts: string, message: ChatMessage): Promise<void> {
    await call('chat.update', () => this.client.chat.update({ channel, ts, text: message.text, blocks: message.blocks }));
  }

  async postEphemeral(channel: string, user: string, message: ChatMessage): Promise<void> {
    await call('chat.postEphemeral', () => this.client.chat.postEphemeral({ channel, user, text: message.text, blocks: message.blocks }));
  }

  async postDirect(user: string, message: ChatMessage): Promise<PostedMessage> {
    return this.post(await this.openDirect(user), message);
  }

  async openDirect(user: string): Promise<string> {
    const r = await call('conversations.open', () => this.client.conversations.open({ users: user }));
    return r.channel!.id!;
  }

  async openModal(triggerId: string, view: ModalView): Promise<void> {
    await call('views.open', () => this.client.views.open({ trigger_id: triggerId, view }));
  }

  async uploadFile(channel: string, file: { filename: string; title: string; content: string }, opts: { threadTs?: string } = {}): Promise<void> {
    await call('files.uploadV2', () =>
      this.client.files.uploadV2({ channel_id: channel, filename: file.filename, title: file.title, content: file.content, ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}) } as never),
    );
  }

  async permalink(channel: string, ts: string): Promise<string | undefined> {
    try {
      const r = await call('chat.getPermalink', () => this.client.chat.getPermalink({ channel, message_ts: ts }));
      return r.permalink;
    } catch {
      return undefined;
    }
  }

  async messageText(channel: string, ts: string): Promise<string | undefined> {
    const r = await call('conversations.history', () => this.client.conversations.history({ channel, latest: ts, inclusive: true, limit: 1 }));
    const text = r.messages?.[0]?.text;
    // Message text comes escaped by Slack; the timeline stores plain text.
    return text === undefined ? undefined : decodeSlackText(text);
  }

  /**
   * The name people see in Slack (display name, else full name), for post-mortems read outside
   * Slack. Needs `users:read`; remembered per process (bounded) because a post-mortem names the
   * same few people many times and Slack rate-limits users.info.
   */
  async displayName(userId: string): Promise<string | undefined> {
    const known = this.names.get(userId);
    if (known !== undefined) return known || undefined;
    const r = await call('users.info', () => this.client.users.info({ user: userId }));
    const name = r.user?.profile?.display_name || r.user?.profile?.real_name || r.user?.real_name || '';
    if (this.names.size >= 1000) this.names.delete(this.names.keys().next().value!);
    this.names.set(userId, name);
    return name || undefined;
  }

  async ping(): Promise<void> {
    await call('auth.test', () => this.client.auth.test());
  }
}
