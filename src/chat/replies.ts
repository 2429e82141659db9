import type { ChatMessage, ChatSurface } from './surface.js';
import type { ReplyFactory } from './interactions.js';

const asMessage = (m: ChatMessage | string): ChatMessage => (typeof m === 'string' ? { text: m } : m);

/**
 * Answers through the chat surface alone: ephemeral where the person acted, or a direct
 * message when the bot cannot post there (not a member, a DM with someone else).
 */
export function chatReplies(chat: ChatSurface): ReplyFactory {
  return (address) => ({
    ephemeral: async (m) => {
      const msg = asMessage(m);
      if (address.channelId) {
        try {
          return await chat.postEphemeral(address.channelId, address.userId, msg);
        } catch {
          /* fall back to a DM below */
        }
      }
      await chat.postDirect(address.userId, msg);
    },
    openModal: async (view) => {
      if (!address.triggerId) throw new Error('no trigger_id to open a modal with');
      await chat.openModal(address.triggerId, view);
    },
  });
}
