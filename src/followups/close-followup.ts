import { withTransaction } from '../db/pool.js';
import { appendEvent } from '../events/log.js';
import { followupRef, type Followup } from './model.js';
import * as store from './store.js';
import type { FollowupDeps } from './deps.js';

export type CloseOutcome = { ok: true; followup: Followup } | { ok: false; message: string };

/**
 * `/followups done <id>`: the owner, whoever recorded it, or someone who may act on its
 * incident (`mayAct`) marks it done. Audited on the incident's timeline.
 */
export async function markDone(d: FollowupDeps, id: number, actor: string, mayAct: (incidentId: number, userId: string) => Promise<boolean>): Promise<CloseOutcome> {
  const f = await store.getFollowup(d.pool, id);
  if (!f) return { ok: false, message: `There is no follow-up ${followupRef(id)}.` };
  if (f.status !== 'open') return { ok: false, message: `${followupRef(id)} is already ${f.status}${f.closedBy ? ` (closed by ${f.closedBy === 'tracker' ? `its ${f.tracker ?? 'tracker'} issue` : `<@${f.closedBy}>`})` : ''}.` };
  if (f.ownerUserId !== actor && f.createdBy !== actor && !(await mayAct(f.incidentId, actor))) {
    return { ok: false, message: `${followupRef(id)} belongs to INC-${f.incidentId}: its owner, whoever recorded it, or people in the incident's channel can mark it done.` };
  }
  const now = d.clock.now();
  const closed = await withTransaction(d.pool, async (tx) => {
    const c = await store.closeFollowup(tx, id, 'done', actor, now);
    if (c) await appendEvent(tx, { type: 'followup.closed', actor, at: now, incidentId: f.incidentId, payload: { followupId: id, closedBy: actor, via: 'chat', text: `Follow-up ${followupRef(id)} done` } });
    return c;
  });
  return closed ? { ok: true, followup: closed } : { ok: false, message: `${followupRef(id)} was closed meanwhile.` };
}
