import type { IncidentStatus } from './model.js';
import type * as store from './store.js';
import { applyChange, resolvedRefusal, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { effectRun } from './messages.js';
import { resolveIncident } from './resolve.js';
import { statusNotice } from '../templates/incidents.js';

/** Status change (investigating → identified → monitoring); resolving is its own flow. */
export async function changeStatus(d: IncidentFlowDeps, id: number, actor: string, status: IncidentStatus, requestKey?: string): Promise<ChangeOutcome> {
  if (status === 'resolved') return resolveIncident(d, id, actor, undefined, requestKey);
  const { ctx, messages } = d;
  const now = ctx.clock.now();
  const out = await applyChange(ctx, id, actor, (i) => {
    if (i.status === 'resolved') return resolvedRefusal(id);
    if (i.status === status) return `INC-${id} is already ${status}.`;
    const patch: store.IncidentPatch = { status };
    // First time only: the metrics measure when it was first identified and mitigated.
    if (status === 'identified' && !i.identifiedAt) patch.identifiedAt = now;
    if (status === 'monitoring' && !i.mitigatedAt) patch.mitigatedAt = now;
    if (status === 'monitoring' && !i.identifiedAt) patch.identifiedAt = now;
    return { patch, event: { type: 'incident.status_changed', payload: { from: i.status, to: status } } };
  }, requestKey);
  if (!out.ok) return out;
  const from = String(out.event.from);
  await messages.postIn(out.incident, out.problems, statusNotice(actor, from as IncidentStatus, status), effectRun(id, requestKey, out), 'status');
  await messages.syncChannel(out.incident, out.problems, true);
  await ctx.hooks.emit('incident.status_changed', { incident: out.incident, from, to: status, actor });
  return out;
}
