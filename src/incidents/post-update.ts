import { applyChange, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { effectRun } from './messages.js';
import { scheduleReminder } from './reminders.js';
import { noteNotice, updateCrossPost, updatePosted } from '../templates/incidents.js';

/** A stakeholder update: posted, cross-posted to the announcement channels, and the cadence restarts. */
export async function postUpdate(d: IncidentFlowDeps, id: number, actor: string, text: string, requestKey?: string): Promise<ChangeOutcome> {
  const { ctx, messages } = d;
  const now = ctx.clock.now();
  const out = await applyChange(ctx, id, actor, (i) =>
    i.status === 'resolved'
      ? `INC-${id} is resolved; reopen it before posting updates.`
      : {
          patch: { lastUpdateAt: now, missedReminders: 0 },
          event: { type: 'incident.update_posted', payload: { text, status: i.status } },
          inTx: (u, tx) => scheduleReminder(ctx, u, tx),
        },
    requestKey,
  );
  if (!out.ok) return out;
  const i = out.incident;
  const run = effectRun(id, requestKey, out);
  await messages.postIn(i, out.problems, updatePosted(i, actor, text), run, 'update');
  await messages.announce(out.problems, 'cross-post the update', run, 'update-crosspost', i.severity, updateCrossPost(i, text));
  await messages.syncChannel(i, out.problems);
  return out;
}

/** A note on the timeline, echoed in the channel; after the resolve, notes go in the post-mortem. */
export async function addNote(d: IncidentFlowDeps, id: number, actor: string, text: string, requestKey?: string): Promise<ChangeOutcome> {
  const out = await applyChange(
    d.ctx, id, actor,
    (i) =>
      i.status === 'resolved'
        ? `INC-${id} is resolved; notes after the fact belong in the post-mortem.`
        : { patch: {}, event: { type: 'incident.note_added', payload: { text } } },
    requestKey,
  );
  if (!out.ok) return out;
  await d.messages.postIn(out.incident, out.problems, noteNotice(actor, text), effectRun(id, requestKey, out), 'note');
  await d.ctx.hooks.emit('incident.note_added', { incident: out.incident, actor, text });
  return out;
}
