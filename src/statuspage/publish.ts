/**
 * Publishing on the public status page, never automatic: a person asks (`requestPublish`),
 * the change gate decides (policy `statuspage.publish`), and only the approved execution
 * (`executePublish`) writes what the public sees: exactly the approved title, status, text
 * and component states, once per change request, recorded in the event log.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChangeGate, ActionExecution, ActionResult, GateOutcome } from '../approvals/gate.js';
import { withTransaction } from '../db/pool.js';
import { appendEvent } from '../events/log.js';
import type { StatusPageConfig } from './config.js';
import { STATE_LABEL, isComponentState, isPublicStatus, type ComponentState, type PublicStatus } from './model.js';
import * as store from './store.js';

/** The change-gate kind (approvals.actions["statuspage.publish"]). */
export const PUBLISH_KIND = 'statuspage.publish';
export const MAX_TITLE = 200;
export const MAX_BODY = 3000;

/** What the approvers approve, byte for byte: the public text and states, nothing else. */
export interface PublishParams extends Record<string, unknown> {
  requestKey: string;
  incidentId: number;
  title: string;
  status: PublicStatus;
  body: string;
  components: Record<string, ComponentState>;
  requester: string;
}

export interface PublishDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  config: StatusPageConfig;
  gate: ChangeGate;
  /** Queues the Atlassian sync of a public incident in the publishing transaction; absent = no sync. */
  enqueueSync?(c: pg.PoolClient, statusIncidentId: number, updateId: number): Promise<void>;
  /** Tells the incident channel what went public (after the commit; failures only logged). */
  announce?(incidentId: number, statusIncidentId: number, update: store.StoredUpdate): Promise<void>;
}

export interface PublishInput {
  requestKey: string;
  actor: string;
  channelId?: string;
  incidentId: number;
  title: string;
  status: string;
  body: string;
  /** Component id -> state; components left out are not affected by this update. */
  components: Record<string, string>;
}

export type PublishRequestOutcome =
  | { status: 'gated'; gate: GateOutcome }
  | { status: 'invalid'; errors: Partial<Record<'title' | 'status' | 'body' | 'components', string>> & Record<string, string> };

/** Checks what a person asked to publish; field errors say what to fix. */
export function validatePublish(config: StatusPageConfig, p: Omit<PublishInput, 'requestKey' | 'actor' | 'incidentId' | 'channelId'>): PublishRequestOutcome & { status: 'invalid' } | { status: 'ok'; title: string; body: string; publicStatus: PublicStatus; components: Record<string, ComponentState> } {
  const errors: Record<string, string> = {};
  const title = p.title.trim();
  const body = p.body.trim();
  if (!title) errors.title = 'Give the public incident a title.';
  else if (title.length > MAX_TITLE) errors.title = `The title is ${title.length} characters; keep it under ${MAX_TITLE}.`;
  if (!body) errors.body = 'Write the public message: it is what customers read.';
  else if (body.length > MAX_BODY) errors.body = `The message is ${body.length} characters; keep it under ${MAX_BODY}.`;
  if (!isPublicStatus(p.status)) errors.status = `"${p.status}" is not a status: investigating, identified, monitoring or resolved.`;
  const known = new Set(config.components.map((c) => c.id));
  const components: Record<string, ComponentState> = {};
  for (const [id, state] of Object.entries(p.components)) {
    if (!known.has(id)) {
      errors.components = `There is no component "${id}" on the status page. Known components: ${[...known].join(', ') || 'none (statusPage.components is empty)'}.`;
      continue;
    }
    if (!isComponentState(state)) {
      errors.components = `"${state}" is not a component state: ${Object.keys(STATE_LABEL).join(', ')}.`;
      continue;
    }
    components[id] = state;
  }
  if (Object.keys(errors).length) return { status: 'invalid', errors };
  return { status: 'ok', title, body, publicStatus: p.status as PublicStatus, components };
}

export async function requestPublish(d: PublishDeps, p: PublishInput): Promise<PublishRequestOutcome> {
  if (!d.config.enabled) return { status: 'gated', gate: { status: 'refused', message: 'The status page is off: set `statusPage.enabled: true` in the configuration to publish.' } };
  const v = validatePublish(d.config, p);
  if (v.status === 'invalid') return v;
  const params: PublishParams = {
    requestKey: p.requestKey, incidentId: p.incidentId, title: v.title, status: v.publicStatus, body: v.body, components: v.components, requester: p.actor,
  };
  const gate = await d.gate.request(PUBLISH_KIND, params, { userId: p.actor, ...(p.channelId ? { channelId: p.channelId } : {}) }, {
    category: 'standard', risk: 'low', requestKey: `statuspage:${p.requestKey}`,
    title: `Status page (${v.publicStatus}): ${v.title}`,
  });
  return { status: 'gated', gate };
}

/** One line the approver reads: exactly what goes public if they approve. */
export function describePublish(config: StatusPageConfig, p: PublishParams): string {
  const names = new Map(config.components.map((c) => [c.id, c.name]));
  const comps = Object.entries(p.components).map(([id, s]) => `${names.get(id) ?? id}: ${STATE_LABEL[s]}`).join('; ');
  return `Publish on the public status page for INC-${p.incidentId}: "${p.title}" (${p.status}). Components: ${comps || 'no change'}. Public message: ${p.body}`;
}

/** The approved execution: stores the update and the component states, once per change request. */
export async function executePublish(d: PublishDeps, p: PublishParams, exec: ActionExecution): Promise<ActionResult> {
  const now = d.clock.now();
  const out = await withTransaction(d.pool, async (c) => {
    const earlier = exec.requestId !== null ? await store.updateByChange(c, exec.requestId) : undefined;
    if (earlier) return { update: earlier, statusIncidentId: earlier.statusIncidentId, fresh: false };
    const si = await store.upsertStatusIncident(c, { incidentId: p.incidentId, title: p.title, status: p.status, at: now });
    const update = await store.insertUpdate(c, {
      statusIncidentId: si.id, status: p.status, body: p.body, components: p.components, at: now, requestedBy: p.requester, changeId: exec.requestId,
    });
    await store.setComponentStates(c, p.components, update.id, now);
    await appendEvent(c, {
      type: 'statuspage.published', actor: p.requester, at: now, incidentId: p.incidentId, subject: `statuspage:${si.id}`,
      payload: { updateId: update.id, title: p.title, status: p.status, body: p.body, components: p.components, changeId: exec.requestId, approvers: exec.approvers },
    });
    await d.enqueueSync?.(c, si.id, update.id);
    return { update, statusIncidentId: si.id, fresh: true };
  });
  if (out.fresh && d.announce) {
    await d.announce(p.incidentId, out.statusIncidentId, out.update).catch((err: unknown) => d.log.warn({ err, incidentId: p.incidentId }, 'could not tell the incident channel about a status page publish'));
  }
  return { ok: true, summary: `published on the status page as public incident #${out.statusIncidentId} (update ${out.update.id}, ${p.status})` };
}
