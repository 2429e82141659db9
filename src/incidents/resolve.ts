import { applyChange, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { effectRun } from './messages.js';
import { cancelReminders } from './reminders.js';
import { writePostmortem } from './write-postmortem.js';
import { resolvedAnnouncement, resolvedNotice } from '../templates/incidents.js';
import { commsMessage } from '../templates/comms.js';

/**
 * Resolve: mark it resolved (and mitigated, if nobody said so), stop the reminders, post the
 * resolved notice and comms draft, announce, refresh the channel, write the post-mortem.
 */
export async function resolveIncident(d: IncidentFlowDeps, id: number, actor: string, summary?: string, requestKey?: string): Promise<ChangeOutcome> {
  const { ctx, messages } = d;
  const now = ctx.clock.now();
  const out = await applyChange(ctx, id, actor, (i) => {
    if (i.status === 'resolved') return `INC-${id} was already resolved at ${i.resolvedAt?.toISOString().replace('T', ' ').slice(0, 19)} UTC.`;
    // Resolving means it is mitigated too, if nobody said so before.
    return {
      patch: { status: 'resolved', resolvedAt: now, mitigatedAt: i.mitigatedAt ?? now, missedReminders: 0 },
      event: { type: 'incident.resolved', payload: { from: i.status, ...(summary ? { summary } : {}) } },
      inTx: (_u, tx) => cancelReminders(ctx, id, tx),
    };
  }, requestKey);
  if (!out.ok) return out;
  const i = out.incident;
  const run = effectRun(id, requestKey, out);
  await messages.postIn(i, out.problems, resolvedNotice(i, actor, summary), run, 'resolved');
  await messages.postIn(i, out.problems, commsMessage('resolved', i, messages.commsExtras(i, summary), messages.comms), run, 'resolved-comms');
  await messages.announce(out.problems, 'announce the resolution', run, 'resolved-announce', i.severity, resolvedAnnouncement(i));
  await messages.syncChannel(i, out.problems, true);
  await messages.effect(out.problems, 'write the post-mortem', () => writePostmortem(d, id, actor, requestKey));
  await ctx.hooks.emit('incident.status_changed', { incident: i, from: String(out.event.from), to: 'resolved', actor });
  await ctx.hooks.emit('incident.resolved', { incident: i, actor });
  return out;
}
