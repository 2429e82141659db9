/**
 * The chat surface: everything Firebreak's services need from a chat system. Slack
 * (src/slack/surface.ts) and the local console (src/console/surface.ts) implement it, so the
 * same services run behind both and behind the tests.
 *
 * Messages are Block Kit (the console renders the same blocks), with `text` as the
 * notification/fallback line.
 */
import type { KnownBlock } from '@slack/types';

/** A Block Kit block, as @slack/types defines it; src/templates/blocks.ts builds them within Slack's limits. */
export type Block = KnownBlock;

export interface ChatMessage {
  text: string;
  blocks?: Block[];
}

export interface PostedMessage {
  channel: string;
  ts: string;
}

/**
 * Marks a message Firebreak posts as one step of one incident's setup (Slack message
 * metadata), so a resumed setup can find it instead of posting it again.
 */
export interface MessageTag {
  incidentId: number;
  step: string;
}

export interface ChannelRef {
  id: string;
  name: string;
}

export interface ModalView {
  type: 'modal';
  callback_id: string;
  title: { type: 'plain_text'; text: string };
  submit?: { type: 'plain_text'; text: string };
  close?: { type: 'plain_text'; text: string };
  private_metadata?: string;
  blocks: Block[];
}

/** A failed chat call. `code` is the platform's error string (Slack's `error` field). */
export class ChatError extends Error {
  constructor(
    readonly code: string,
    readonly operation: string,
    readonly retryable = false,
  ) {
    super(`${operation} failed: ${code}`);
    this.name = 'ChatError';
  }
}

export interface ChatSurface {
  /** Creates a public channel. Throws ChatError('name_taken') when the name exists, archived or not. */
  createChannel(name: string): Promise<ChannelRef>;
  /** Resolves a channel name (without #) or id to a channel the bot can post in; undefined if none. */
  findChannel(nameOrId: string): Promise<ChannelRef | undefined>;
  setTopic(channel: string, topic: string): Promise<void>;
  setPurpose(channel: string, purpose: string): Promise<void>;
  invite(channel: string, userIds: string[]): Promise<void>;
  /** Members of a user group (Slack subteam). */
  userGroupMembers(groupId: string): Promise<string[]>;
  post(channel: string, message: ChatMessage, opts?: { threadTs?: string; tag?: MessageTag }): Promise<PostedMessage>;
  /** The message posted with `tag` in the channel (or in the thread of `threadTs`), if any. */
  findTagged(channel: string, tag: MessageTag, opts?: { threadTs?: string }): Promise<PostedMessage | undefined>;
  /** A live channel with this exact name that the bot itself created; undefined otherwise. */
  ownChannel(name: string): Promise<ChannelRef | undefined>;
  update(channel: string, ts: string, message: ChatMessage): Promise<void>;
  postEphemeral(channel: string, user: string, message: ChatMessage): Promise<void>;
  /** Direct message to a user. */
  postDirect(user: string, message: ChatMessage): Promise<PostedMessage>;
  /**
   * The id of the direct-message channel with a user, opened if needed (Slack conversations.open):
   * for a DM that must be sent once, posted with a tag through `post` and looked for with `findTagged`.
   */
  openDirect(user: string): Promise<string>;
  openModal(triggerId: string, view: ModalView): Promise<void>;
  uploadFile(channel: string, file: { filename: string; title: string; content: string }, opts?: { threadTs?: string }): Promise<void>;
  /** Whether a file with this exact name was shared in the channel: a resumed upload looks first (files carry no metadata). */
  findUpload(channel: string, filename: string): Promise<boolean>;
  /** Link to a message, for timelines and reports. */
  permalink(channel: string, ts: string): Promise<string | undefined>;
  /** Text of one message, for pins and reactions that should become timeline entries. */
  messageText(channel: string, ts: string): Promise<string | undefined>;
  /** Whether the surface is reachable and authorised (readiness). */
  ping(): Promise<void>;
  /** A user's display name (`alice`), for documents read outside chat such as post-mortems; optional. */
  displayName?(userId: string): Promise<string | undefined>;
  /**
   * A user's handle and e-mail (Slack users.info): the name Alertmanager records as a silence's
   * creator and the address that maps them to a PagerDuty user. Optional; undefined if unknown.
   */
  userIdentity?(userId: string): Promise<{ name: string; email?: string } | undefined>;
}
