import type { ActionHandler } from '../chat/interactions.js';
import type { PagingService } from '../paging/service.js';
import { parseRetryValue, pageRequestReply } from '../templates/paging.js';

/** The Retry paging button under a failed page. */
export function retryPagingAction(paging: PagingService): ActionHandler {
  return async (inv, ctx) => {
    const target = parseRetryValue(inv.value);
    if (!target) return ctx.reply.ephemeral('That button is from an older version of Firebreak; use `/incident page &lt;service&gt;` instead.');
    const ref = inv.channelId && inv.messageTs ? { channel: inv.channelId, ts: inv.messageTs } : undefined;
    const out = await paging.retry(target.incidentId, target.service, inv.actor.userId, ref);
    await ctx.reply.ephemeral(pageRequestReply(out, target.incidentId));
  };
}
