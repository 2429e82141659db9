import type { Incident } from './model.js';
import { appendEvent, incidentEvents } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import type { IncidentFlowDeps } from './change.js';
import * as store from './store.js';
import { postmortemMarkdown } from '../templates/postmortem.js';

/**
 * Write the post-mortem: render it from the incident and its events, store it as a new
 * version and upload it to the channel. Safe to run again at any time: each run is a new
 * version, except a re-run of the same request (`requestKey`), which finishes the version
 * its first run saved.
 */
export async function writePostmortem(d: IncidentFlowDeps, id: number, actor: string, requestKey?: string): Promise<store.StoredPostmortem> {
  const i = await store.getIncident(d.ctx.pool, id);
  if (!i) throw new Error(`There is no INC-${id}.`);
  const now = d.ctx.clock.now();
  const key = requestKey ? `postmortem:${requestKey}` : undefined;
  const earlier = key ? await store.eventMarked(d.ctx.pool, id, 'requestKey', key) : undefined;
  const saved = earlier ? await store.postmortemVersion(d.ctx.pool, id, Number(earlier.version)) : await savePostmortem(d, i, actor, now, key);
  if (!saved) throw new Error(`INC-${id} has no post-mortem v${String(earlier?.version)}`);
  await d.messages.postPostmortem(i, saved, key, !!earlier);
  return saved;
}

async function savePostmortem(d: IncidentFlowDeps, i: Incident, actor: string, now: Date, requestKey?: string): Promise<store.StoredPostmortem> {
  const id = i.id;
  const events = await incidentEvents(d.ctx.pool, id);
  const followups = await d.postmortemActions?.forPostmortem(id, events);
  const owners = followups?.map((f) => f.ownerUserId).filter((u): u is string => !!u) ?? [];
  const names = await d.messages.displayNames([i.commander, i.commsLead, i.techLead, actor, ...owners, ...events.map((e) => e.actor), JSON.stringify(events.map((e) => e.payload))]);
  const markdown = postmortemMarkdown({ incident: i, events, generatedAt: now, generatedBy: actor, nameOf: (u) => names.get(u), followups });
  return withTransaction(d.ctx.pool, async (tx) => {
    // Two regenerations at once take turns for the version number.
    await store.lockKey(tx, `postmortem:${id}`);
    const pm = await store.savePostmortem(tx, id, markdown, actor, now);
    await appendEvent(tx, { type: 'incident.postmortem_generated', actor, at: now, incidentId: id, payload: { version: pm.version, ...(requestKey ? { requestKey } : {}) } });
    return pm;
  });
}
