import type { App } from '@slack/bolt';
import { createHash } from 'node:crypto';
import type { Interactions } from './interactions.js';
import type { ChatMessage, ChatSurface, ModalView } from '../chat/surface.js';
import type { ChatEvent, Reply } from '../chat/interactions.js';
import type { Logger } from '../log.js';
import { Semaphore, type Background } from '../background.js';
import { decodeSlackText, escapeMrkdwn } from '../templates/blocks.js';

const maybeDecode = (s: string | undefined): string | undefined => (s === undefined ? undefined : decodeSlackText(s));

type RespondFn = (m: { response_type?: 'ephemeral'; text: string; blocks?: unknown[]; replace_original?: boolean }) => Promise<unknown>;

const asMessage = (m: ChatMessage | string): ChatMessage => (typeof m === 'string' ? { text: m } : m);

function replyVia(respond: RespondFn | undefined, chat: ChatSurface, triggerId: string | undefined, fallback: (m: ChatMessage) => Promise<void>): Reply {
  return {
    ephemeral: async (m) => {
      const msg = asMessage(m);
      if (respond) await respond({ response_type: 'ephemeral', replace_original: false, text: msg.text, blocks: msg.blocks });
      else await fallback(msg);
    },
    openModal: async (view: ModalView) => {
      if (!triggerId) throw new Error('no trigger_id to open a modal with');
      await chat.openModal(triggerId, view);
    },
  };
}

/** Flattens Slack's view.state.values into block_id -> value. */
export function viewValues(state: Record<string, Record<string, Record<string, unknown>>> | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [blockId, actions] of Object.entries(state ?? {})) {
    const v = Object.values(actions)[0] as {
      value?: string | null; selected_option?: { value: string } | null; selected_user?: string | null;
      selected_conversation?: string | null; selected_date?: string | null; selected_options?: { value: string }[];
    } | undefined;
    if (!v) continue;
    out[blockId] = v.value ?? v.selected_option?.value ?? v.selected_user ?? v.selected_conversation ?? v.selected_date ??
      (v.selected_options ? v.selected_options.map((o) => o.value).join(',') : undefined) ?? undefined;
  }
  return out;
}

/**
 * The whole Slack vocabulary on one screen: every slash command, button, modal and event
 * goes to Interactions, which routes by name. Listeners ack first (Slack's 3 s), then work.
 */
export function registerSlackListeners(bolt: App, interactions: Interactions, chat: ChatSurface, log: Logger, background: Background): void {
  // Work after the ack is tracked like any background work, so shutdown drains it. A burst
  // (an alert storm of declares, a click frenzy) runs 16 at a time so the acks of requests still
  // arriving are not starved; a queued command still starts well inside its trigger's 3 s.
  const lane = new Semaphore(16);
  const afterAck = (label: string, work: () => Promise<void>) => background.run(label, () => lane.use(work));
  const friendlyFailure = async (reply: Reply, err: unknown) => {
    log.error({ err }, 'slack interaction failed');
    await reply.ephemeral(`Sorry, that failed on our side: ${escapeMrkdwn((err as Error).message)}. Nothing was lost; try again, and if it keeps failing tell the Firebreak owners.`).catch(() => {});
  };

  bolt.command(/.*/, async ({ command, ack, respond }) => {
    await ack();
    const reply = replyVia(respond as RespondFn, chat, command.trigger_id, (m) => chat.postEphemeral(command.channel_id, command.user_id, m));
    afterAck(`command ${command.command}`, async () => {
    try {
      await interactions.command(
        {
          // Slack escapes &, < and > in command text; the services get (and store) plain text.
          command: command.command, text: decodeSlackText(command.text ?? ''), channelId: command.channel_id, triggerId: command.trigger_id,
          actor: { userId: command.user_id, userName: command.user_name },
          requestKey: command.trigger_id || `${command.user_id}:${command.command}:${command.text}`,
        },
        reply,
      );
    } catch (err) {
      await friendlyFailure(reply, err);
    }
    });
  });

  bolt.action(/.*/, async ({ ack, body, action, respond }) => {
    await ack();
    const b = body as { user: { id: string; username?: string }; channel?: { id: string }; container?: { message_ts?: string; channel_id?: string }; message?: { ts: string }; trigger_id?: string };
    const a = action as { action_id: string; value?: string; action_ts?: string; selected_option?: { value: string } };
    const reply = replyVia(respond as RespondFn, chat, b.trigger_id, async (m) => {
      if (b.channel?.id) await chat.postEphemeral(b.channel.id, b.user.id, m);
      else await chat.postDirect(b.user.id, m);
    });
    afterAck(`action ${a.action_id}`, async () => {
    try {
      await interactions.action(
        {
          actionId: a.action_id, value: a.value ?? a.selected_option?.value ?? '', actor: { userId: b.user.id, userName: b.user.username },
          channelId: b.channel?.id ?? b.container?.channel_id, messageTs: b.message?.ts ?? b.container?.message_ts, triggerId: b.trigger_id,
          requestKey: `${a.action_ts ?? b.trigger_id}:${b.user.id}:${a.action_id}`,
        },
        reply,
      );
    } catch (err) {
      await friendlyFailure(reply, err);
    }
    });
  });

  bolt.view(/.*/, async ({ ack, view, body }) => {
    const values = viewValues(view.state?.values as never);
    const user = body.user.id;
    const reply = replyVia(undefined, chat, undefined, async (m) => void (await chat.postDirect(user, m)));
    const requestKey = `${view.id}:${createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 16)}`;
    try {
      const errors = await interactions.view(
        { callbackId: view.callback_id, values, privateMetadata: view.private_metadata ?? '', actor: { userId: user, userName: body.user.name }, requestKey },
        reply,
      );
      if (errors && Object.keys(errors).length) await ack({ response_action: 'errors', errors });
      else await ack();
    } catch (err) {
      await ack();
      await friendlyFailure(reply, err);
    }
  });

  const forward = (type: ChatEvent['type']) =>
    bolt.event(type, async ({ event, body }) => {
      const e = event as { user?: string; reaction?: string; item?: { channel?: string; ts?: string; message?: { ts?: string; text?: string } }; channel_id?: string; channel?: string; ts?: string; text?: string };
      const b = body as { event_id?: string };
      // Bolt has already acked the event; the handling is background work so shutdown drains it.
      afterAck(`slack event ${type}`, async () => {
        try {
          await interactions.event({
            type, eventId: b.event_id ?? `${type}:${e.item?.ts ?? e.ts}:${e.user}`, actor: { userId: e.user ?? 'unknown' },
            channelId: e.item?.channel ?? e.channel_id ?? e.channel ?? '', messageTs: e.item?.ts ?? e.item?.message?.ts ?? e.ts,
            reaction: e.reaction, text: maybeDecode(e.item?.message?.text ?? e.text),
          });
        } catch (err) {
          log.error({ err, type }, 'slack event handling failed');
        }
      });
    });
  forward('reaction_added');
  forward('pin_added');
  forward('member_joined_channel');
}
