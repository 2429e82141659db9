import { SEVERITIES, type Severity } from './config.js';
import { applyChange, resolvedRefusal, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { effectRun } from './messages.js';
import { scheduleReminder } from './reminders.js';
import { appendEvent } from '../events/log.js';
import * as store from './store.js';
import { announcement, severityNotice } from '../templates/incidents.js';
import { commsMessage } from '../templates/comms.js';

/** Severity change. Raising it applies the new policy: responders invited, announced, new comms drafts; the cadence follows. */
export async function changeSeverity(d: IncidentFlowDeps, id: number, actor: string, severity: Severity, requestKey?: string): Promise<ChangeOutcome> {
  const { ctx, messages } = d;
  const out = await applyChange(ctx, id, actor, (i) => {
    if (i.status === 'resolved') return resolvedRefusal(id);
    if (i.severity === severity) return `INC-${id} is already ${severity}.`;
    return {
      patch: { severity },
      event: { type: 'incident.severity_changed', payload: { from: i.severity, to: severity } },
      inTx: (u, tx) => scheduleReminder(ctx, u, tx),
    };
  }, requestKey);
  if (!out.ok) return out;
  const i = out.incident;
  const from = out.event.from as Severity;
  const run = effectRun(id, requestKey, out);
  const raised = SEVERITIES.indexOf(severity) < SEVERITIES.indexOf(from);
  await messages.postIn(i, out.problems, severityNotice(actor, from, severity, raised), run, 'severity');
  if (raised && i.channelId) {
    await messages.effect(out.problems, 'invite responders', async () => {
      const invited = await messages.invite(i, severity);
      const added = await store.addMembers(ctx.pool, i.id, invited, 'invited', ctx.clock.now());
      if (added.length) {
        await appendEvent(ctx.pool, { type: 'incident.responders_invited', actor: 'firebreak', at: ctx.clock.now(), incidentId: i.id, payload: { users: added, severity } });
      }
    });
    await messages.announce(out.problems, 'announce', run, 'severity-announce', severity, announcement(i));
    const policies = ctx.config.incidents.severities;
    const newDrafts = policies[severity].templates.filter((k) => !policies[from].templates.includes(k));
    await messages.effect(out.problems, 'post comms drafts', async () => {
      for (const kind of newDrafts) {
        await messages.postOnce(run, `severity-comms:${kind}`, i.channelId!, commsMessage(kind, i, messages.commsExtras(i), messages.comms), i.headlineTs ?? undefined);
      }
    });
  }
  await messages.syncChannel(i, out.problems, true);
  await ctx.hooks.emit('incident.severity_changed', { incident: i, from, to: severity, actor });
  return out;
}
