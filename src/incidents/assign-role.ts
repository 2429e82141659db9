import { ROLE_FIELD, type IncidentRole } from './model.js';
import { applyChange, resolvedRefusal, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { effectRun } from './messages.js';
import * as store from './store.js';
import { roleNotice } from '../templates/incidents.js';

/** Role assignment: the person holds the role, is a member and is in the channel. */
export async function assignRole(d: IncidentFlowDeps, id: number, actor: string, role: IncidentRole, user: string, requestKey?: string): Promise<ChangeOutcome> {
  const { ctx, messages } = d;
  const field = ROLE_FIELD[role];
  const out = await applyChange(ctx, id, actor, (i) => {
    if (i.status === 'resolved') return resolvedRefusal(id);
    if (i[field] === user) return `<@${user}> already holds that role on INC-${id}.`;
    return { patch: { [field]: user }, event: { type: 'incident.role_assigned', payload: { role, user, previous: i[field] } } };
  }, requestKey);
  if (!out.ok) return out;
  const i = out.incident;
  await store.addMembers(ctx.pool, i.id, [user], `role:${role}`, ctx.clock.now());
  // Inviting someone already in the channel is harmless: a re-run simply does it again.
  if (i.channelId) await messages.effect(out.problems, 'invite', () => ctx.chat.invite(i.channelId!, [user]));
  await messages.postIn(i, out.problems, roleNotice(actor, role, user), effectRun(id, requestKey, out), 'role');
  await messages.syncChannel(i, out.problems, role === 'commander');
  return out;
}
