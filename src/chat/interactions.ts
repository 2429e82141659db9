import type { ChatMessage, ChatSurface, ModalView } from './surface.js';

/**
 * Surface-neutral shapes of what people do in chat. The Slack edge (src/slack/listeners.ts)
 * and the console build these from their own payloads; src/commands and src/handlers
 * consume them.
 */
export interface Actor {
  userId: string;
  userName?: string;
}

/** Answers only the person who acted, wherever they acted from. */
export interface Reply {
  ephemeral(message: ChatMessage | string): Promise<void>;
  openModal(view: ModalView): Promise<void>;
}

/**
 * Where to answer a person later, from any replica: plain data, stored with durable work
 * (a queued command, a war room being set up). The surface turns it back into a Reply.
 */
export interface ReplyAddress {
  userId: string;
  /** Where they acted; ephemeral answers go there. */
  channelId?: string;
  /** Slack's response_url for the request (valid 30 minutes, 5 answers). */
  responseUrl?: string;
  triggerId?: string;
}

/** Builds the Reply for an address (src/app/app.ts has the chat-only default; Slack adds response_url). */
export type ReplyFactory = (address: ReplyAddress) => Reply;

export interface CommandInvocation {
  command: string;
  text: string;
  actor: Actor;
  channelId: string;
  triggerId?: string;
  /** Stable across retries of the same request: the idempotency key. */
  requestKey: string;
}

export interface ActionInvocation {
  actionId: string;
  value: string;
  actor: Actor;
  channelId?: string;
  messageTs?: string;
  triggerId?: string;
  requestKey: string;
}

export interface ViewSubmission {
  callbackId: string;
  /** Field id -> value (plain text or selected option value). */
  values: Record<string, string | undefined>;
  privateMetadata: string;
  actor: Actor;
  requestKey: string;
}

/** Validation errors per field; shown next to the field in the modal. */
export type ViewErrors = Record<string, string>;

export interface ChatEvent {
  type: 'reaction_added' | 'pin_added' | 'member_joined_channel' | 'message';
  eventId: string;
  actor: Actor;
  channelId: string;
  messageTs?: string;
  reaction?: string;
  text?: string;
}

export interface InteractionContext {
  chat: ChatSurface;
  reply: Reply;
  /** The reply as data, for work that answers later from a job (e.g. the war-room setup). */
  replyAddress?: ReplyAddress;
  /** Runs slow work after the acknowledgement; tracked so shutdown can drain it. */
  background(label: string, work: () => Promise<void>): void;
  /**
   * Stores a command on behalf of the person and runs it from the job queue, answering them
   * ephemerally in `channelId` (or by DM): how a modal's result survives a replica dying after
   * the modal was answered. Keyed by the submission, so a resubmission does not run it twice.
   */
  runAsCommand(command: string, text: string, channelId: string): Promise<void>;
}

export type CommandHandler = (inv: CommandInvocation, ctx: InteractionContext) => Promise<void>;
export type ActionHandler = (inv: ActionInvocation, ctx: InteractionContext) => Promise<void>;
/** Returns field errors to keep the modal open, or nothing to close it. */
export type ViewHandler = (sub: ViewSubmission, ctx: InteractionContext) => Promise<ViewErrors | void>;
export type EventHandler = (ev: ChatEvent, ctx: Omit<InteractionContext, 'reply' | 'runAsCommand' | 'replyAddress'>) => Promise<void>;
