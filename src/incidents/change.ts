import type pg from 'pg';
import type { AppContext } from '../context.js';
import type { Incident } from './model.js';
import type { IncidentMessages } from './messages.js';
import type { PostmortemActions } from './postmortem-actions.js';
import { appendEvent } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import * as store from './store.js';

/** What every incident flow is built from: the app's parts and the area's chat side. */
export interface IncidentFlowDeps {
  readonly ctx: AppContext;
  readonly messages: IncidentMessages;
  /** Follow-ups for the post-mortem's action list, when that area is wired in. */
  readonly postmortemActions?: PostmortemActions;
}

/** What a change to an incident came to. Refusals carry the sentence to show the person. */
export type ChangeOutcome =
  | {
      ok: true; incident: Incident; before: Incident; problems: string[];
      /** The event as recorded (its `from` fields say what the change started from, also on a re-run). */
      event: Record<string, unknown>;
      /** A re-run of a request whose change was saved before: its chat effects may be in Slack already. */
      repeated?: boolean;
    }
  | { ok: false; message: string; incident?: Incident };

export interface Change {
  patch: store.IncidentPatch;
  event: { type: string; payload: Record<string, unknown> };
  /** Runs in the same transaction after the patch: reminders are rescheduled atomically with it. */
  inTx?: (updated: Incident, tx: pg.PoolClient) => Promise<void>;
}

export const isPerson = (actor: string): boolean => /^[UW][A-Z0-9]+$/.test(actor);

/** The sentence every change but reopen answers on a resolved incident. */
export const resolvedRefusal = (id: number) => `INC-${id} is resolved; \`/incident reopen ${id}\` first.`;

/**
 * One change to an incident: row lock, patch, event, in one transaction. With a `requestKey`
 * (the Slack request that asked for it), the change is made once: a job re-run after its
 * replica died finds the event already written and answers `repeated`.
 */
export async function applyChange(ctx: AppContext, id: number, actor: string, decide: (i: Incident) => Change | string, requestKey?: string): Promise<ChangeOutcome> {
  const now = ctx.clock.now();
  const out = await withTransaction(ctx.pool, async (tx): Promise<ChangeOutcome> => {
    if (!(await store.lockIncident(tx, id))) return { ok: false, message: `There is no INC-${id}.` };
    const before = (await store.getIncident(tx, id))!;
    const recorded = requestKey ? await store.eventMarked(tx, id, 'requestKey', requestKey) : undefined;
    if (recorded) return { ok: true, incident: before, before, problems: [], event: recorded, repeated: true };
    const c = decide(before);
    if (typeof c === 'string') return { ok: false, message: c, incident: before };
    const updated = await store.updateIncident(tx, id, c.patch);
    const payload = requestKey ? { ...c.event.payload, requestKey } : c.event.payload;
    await appendEvent(tx, { type: c.event.type, actor, at: now, incidentId: id, payload });
    await c.inTx?.(updated, tx);
    return { ok: true, incident: updated, before, problems: [], event: payload };
  });
  if (out.ok && !out.repeated && isPerson(actor)) {
    // The first thing a person does on the incident is its acknowledgement (MTTA). The
    // caller refreshes the headline after its own change, so no refresh here.
    out.incident = (await markAcknowledged(ctx, id, actor, 'first responder action', now)).incident ?? out.incident;
  }
  return out;
}

/** Only the first call sets acknowledged_at, so MTTA measures the first response, not the last. */
export async function markAcknowledged(ctx: AppContext, incidentId: number, actor: string, source: string, when: Date): Promise<{ incident?: Incident; acked: boolean }> {
  const acked = await withTransaction(ctx.pool, async (tx) => {
    if (!(await store.markAcknowledged(tx, incidentId, when))) return false;
    await appendEvent(tx, { type: 'incident.acknowledged', actor, at: when, incidentId, payload: { source } });
    return true;
  });
  return { incident: await store.getIncident(ctx.pool, incidentId), acked };
}
