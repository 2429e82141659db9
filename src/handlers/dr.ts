import { escapeMrkdwn } from '../templates/blocks.js';
import type { ActionHandler } from '../chat/interactions.js';
import type { DrService } from '../dr/service.js';
import { runLabel } from '../templates/dr.js';

/** The Cancel button on a running drill's headline. */
export function drActions(service: DrService): Record<string, ActionHandler> {
  return {
    dr_cancel: async (inv, ctx) => {
      const id = Number(inv.value);
      const running = await service.running();
      if (!running || running.id !== id) return ctx.reply.ephemeral(`DR-${escapeMrkdwn(inv.value)} is not running any more.`);
      const r = await service.cancel(inv.actor.userId);
      if (r.status === 'refused') return ctx.reply.ephemeral(r.message);
      await ctx.reply.ephemeral(`Cancelling ${runLabel(running)}; the thread will say when it has stopped and cleaned up.`);
    },
  };
}
