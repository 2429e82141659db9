import type { AppContext } from '../context.js';
import { appendEvent } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import * as store from './store.js';

export interface PinInput { channelId: string; messageTs: string; actor: string; text?: string; via: 'pin' | 'reaction' }

/**
 * A message in an incident channel was pinned or got a :pushpin:: it becomes one timeline
 * entry with its text and link, whatever the number of deliveries or pinners.
 */
export async function recordPin(ctx: AppContext, p: PinInput): Promise<boolean> {
  const i = await store.incidentByChannel(ctx.pool, p.channelId);
  if (!i) return false;
  if (await store.pinExists(ctx.pool, i.id, p.messageTs)) return false;
  let text = p.text;
  if (text === undefined) {
    text = await ctx.chat.messageText(p.channelId, p.messageTs).catch((err: unknown) => {
      ctx.log.warn({ err, incidentId: i.id }, 'could not read the pinned message');
      return undefined;
    });
  }
  const link = await ctx.chat.permalink(p.channelId, p.messageTs);
  const now = ctx.clock.now();
  return withTransaction(ctx.pool, async (tx) => {
    if (!(await store.claimPin(tx, i.id, p.messageTs, now))) return false;
    await appendEvent(tx, {
      type: 'incident.pinned', actor: p.actor, at: now, incidentId: i.id,
      payload: { text: (text ?? '').slice(0, 3000), ts: p.messageTs, via: p.via, ...(link ? { link } : {}) },
    });
    return true;
  });
}
