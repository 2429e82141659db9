import { applyChange, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { effectRun } from './messages.js';
import { scheduleReminder } from './reminders.js';
import { reopenedNotice } from '../templates/incidents.js';

/** Reopen: back to investigating with a fresh update cadence; first identified/mitigated times are kept. */
export async function reopenIncident(d: IncidentFlowDeps, id: number, actor: string, reason?: string, requestKey?: string): Promise<ChangeOutcome> {
  const { ctx, messages } = d;
  const now = ctx.clock.now();
  const out = await applyChange(ctx, id, actor, (i) =>
    i.status !== 'resolved'
      ? `INC-${id} is still open (${i.status}).`
      : {
          // The cadence restarts from the reopen; first identified/mitigated times are kept.
          patch: { status: 'investigating', resolvedAt: null, lastUpdateAt: now, missedReminders: 0 },
          event: { type: 'incident.reopened', payload: reason ? { reason } : {} },
          inTx: (u, tx) => scheduleReminder(ctx, u, tx),
        },
    requestKey,
  );
  if (!out.ok) return out;
  await messages.postIn(out.incident, out.problems, reopenedNotice(out.incident, actor, reason), effectRun(id, requestKey, out), 'reopen');
  await messages.syncChannel(out.incident, out.problems, true);
  await ctx.hooks.emit('incident.status_changed', { incident: out.incident, from: 'resolved', to: 'investigating', actor });
  await ctx.hooks.emit('incident.reopened', { incident: out.incident, actor });
  return out;
}
