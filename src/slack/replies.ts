import type { ChatSurface } from '../chat/surface.js';
import type { ReplyFactory } from '../chat/interactions.js';
import { chatReplies } from '../chat/replies.js';

/**
 * Slack answers a command or button through its response_url (works in any channel, even
 * ones the bot is not in). The URL is plain data, so a replica that did not receive the
 * request can still answer it; once it has expired the answer goes through the Web API.
 */
export function slackReplies(chat: ChatSurface, timeoutMs = 10_000): ReplyFactory {
  const viaChat = chatReplies(chat);
  return (address) => {
    const fallback = viaChat(address);
    return {
      ephemeral: async (m) => {
        const msg = typeof m === 'string' ? { text: m } : m;
        if (address.responseUrl) {
          try {
            const res = await fetch(address.responseUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text: msg.text, blocks: msg.blocks }),
              signal: AbortSignal.timeout(timeoutMs),
            });
            if (res.ok) return;
          } catch {
            /* expired or unreachable: answer through the Web API instead */
          }
        }
        await fallback.ephemeral(msg);
      },
      openModal: fallback.openModal,
    };
  };
}
