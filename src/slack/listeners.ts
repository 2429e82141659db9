import type { App } from '@slack/bolt';
import { createHash } from 'node:crypto';
import type { Interactions } from '../chat/router.js';
import type { ChatMessage, ChatSurface } from '../chat/surface.js';
import type { ChatEvent, Reply, ReplyAddress } from '../chat/interactions.js';
import type { Logger } from '../log.js';
import { decodeSlackText } from '../templates/blocks.js';

const maybeDecode = (s: string | undefined): string | undefined => (s === undefined ? undefined : decodeSlackText(s));

type RespondFn = (m: { response_type?: 'ephemeral'; text: string; blocks?: unknown[]; replace_original?: boolean }) => Promise<unknown>;

/** Said instead of "done" when PostgreSQL could not take the request: nothing was started. */
export const NOT_RECORDED =
  'Firebreak could not record that request (its database is not answering), so nothing was done. Please try again in a minute.';

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
 * goes to Interactions, which routes by name. Commands, buttons and events are stored
 * (Interactions.accept) before they are acknowledged and run from the job queue; a modal is
 * answered with its validation, and what it changes is stored before that answer.
 */
export function registerSlackListeners(bolt: App, interactions: Pick<Interactions, 'accept' | 'view'>, chat: ChatSurface, log: Logger): void {
  bolt.command(/.*/, async ({ command, ack }) => {
    const reply: ReplyAddress = { userId: command.user_id, channelId: command.channel_id, responseUrl: command.response_url, triggerId: command.trigger_id };
    try {
      await interactions.accept({
        kind: 'command',
        inv: {
          command: command.command,
          // Slack escapes &, < and > in command text; the services get (and store) plain text.
          text: decodeSlackText(command.text ?? ''), channelId: command.channel_id, triggerId: command.trigger_id,
          actor: { userId: command.user_id, userName: command.user_name },
          requestKey: command.trigger_id || `${command.user_id}:${command.command}:${command.text}`,
        },
        reply,
      });
    } catch (err) {
      // Slack does not retry slash commands: the person is told, in the acknowledgement itself.
      log.error({ err, command: command.command }, 'could not record a slash command');
      return ack(NOT_RECORDED);
    }
    await ack();
  });

  bolt.action(/.*/, async ({ ack, body, action, respond }) => {
    const b = body as { user: { id: string; username?: string }; channel?: { id: string }; container?: { message_ts?: string; channel_id?: string }; message?: { ts: string }; trigger_id?: string; response_url?: string };
    const a = action as { action_id: string; value?: string; action_ts?: string; selected_option?: { value: string } };
    const channelId = b.channel?.id ?? b.container?.channel_id;
    try {
      await interactions.accept({
        kind: 'action',
        inv: {
          actionId: a.action_id, value: a.value ?? a.selected_option?.value ?? '', actor: { userId: b.user.id, userName: b.user.username },
          channelId, messageTs: b.message?.ts ?? b.container?.message_ts, triggerId: b.trigger_id,
          requestKey: `${a.action_ts ?? b.trigger_id}:${b.user.id}:${a.action_id}`,
        },
        reply: { userId: b.user.id, channelId, responseUrl: b.response_url, triggerId: b.trigger_id },
      });
    } catch (err) {
      log.error({ err, action: a.action_id }, 'could not record a button press');
      await ack();
      await (respond as RespondFn)({ response_type: 'ephemeral', replace_original: false, text: NOT_RECORDED }).catch(() => {});
      return;
    }
    await ack();
  });

  bolt.view(/.*/, async ({ ack, view, body }) => {
    const values = viewValues(view.state?.values as never);
    const user = body.user.id;
    const reply: Reply = {
      ephemeral: async (m) => void (await chat.postDirect(user, typeof m === 'string' ? { text: m } : (m as ChatMessage))),
      openModal: async () => {
        throw new Error('no trigger_id to open a modal with');
      },
    };
    const requestKey = `${view.id}:${createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 16)}`;
    try {
      const errors = await interactions.view(
        { callbackId: view.callback_id, values, privateMetadata: view.private_metadata ?? '', actor: { userId: user, userName: body.user.name }, requestKey },
        reply,
      );
      if (errors && Object.keys(errors).length) await ack({ response_action: 'errors', errors });
      else await ack();
    } catch (err) {
      // The modal stays open with the reason, so the person can submit again.
      log.error({ err, callbackId: view.callback_id }, 'modal submission failed');
      const firstBlock = Object.keys(values)[0];
      if (firstBlock) await ack({ response_action: 'errors', errors: { [firstBlock]: NOT_RECORDED } });
      else await ack();
    }
  });

  const forward = (type: ChatEvent['type']) =>
    bolt.event(type, async ({ event, body }) => {
      const e = event as { user?: string; reaction?: string; item?: { channel?: string; ts?: string; message?: { ts?: string; text?: string } }; channel_id?: string; channel?: string; ts?: string; text?: string };
      const b = body as { event_id?: string };
      // Throws when PostgreSQL cannot take it: the receiver answers 5xx and Slack re-delivers.
      await interactions.accept({
        kind: 'event',
        ev: {
          type, eventId: b.event_id ?? `${type}:${e.item?.ts ?? e.ts}:${e.user}`, actor: { userId: e.user ?? 'unknown' },
          channelId: e.item?.channel ?? e.channel_id ?? e.channel ?? '', messageTs: e.item?.ts ?? e.item?.message?.ts ?? e.ts,
          reaction: e.reaction, text: maybeDecode(e.item?.message?.text ?? e.text),
        },
      });
    });
  forward('reaction_added');
  forward('pin_added');
  forward('member_joined_channel');
}
