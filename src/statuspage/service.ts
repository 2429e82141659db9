/**
 * The status page area as other code calls it: what the public page shows, the prefill of
 * the publish form, the request to publish (through the change gate), the approved execution,
 * the resolved-notice offer and the Atlassian sync. Surface-neutral: no Slack, no HTTP.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChangeGate, ActionExecution, ActionResult } from '../approvals/gate.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Incident } from '../incidents/model.js';
import type { CommsKind } from '../templates/comms.js';
import { atlassianSyncOn, type StatusPageConfig } from './config.js';
import { worstState, type ComponentState, type PublicIncident, type PublicStatus, type PublicStatusPage } from './model.js';
import { describePublish, executePublish, requestPublish, validatePublish, type PublishDeps, type PublishInput, type PublishParams, type PublishRequestOutcome } from './publish.js';
import { SYNC_QUEUE, syncStatusIncident } from './sync.js';
import type { StatuspageApi } from './atlassian.js';
import type { StatusPageMessages } from './messages.js';
import * as store from './store.js';

export { PUBLISH_KIND } from './publish.js';
export { SYNC_QUEUE } from './sync.js';
export const OFFER_QUEUE = 'statuspage.offer_resolved';
export const REQUEST_QUEUE = 'statuspage.request';
/** Attempts of the Atlassian sync job (30 s doubling: the last about four hours after the first). */
export const SYNC_ATTEMPTS = 10;
const HISTORY_DAYS = 90;

/** What the status page needs from incidents (IncidentService is one). */
export interface StatusPageIncidents {
  get(id: number): Promise<Incident | undefined>;
  editableDraft(kind: CommsKind, i: Incident, update?: string): Promise<string>;
  isMember(i: Incident, userId: string): Promise<boolean>;
}

export interface StatusPageDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  config: StatusPageConfig;
  gate: ChangeGate;
  jobs: JobQueue;
  incidents: StatusPageIncidents;
  messages: StatusPageMessages;
  /** Atlassian Statuspage, when configured. */
  api?: StatuspageApi;
}

export interface PublishDraft {
  incident: Incident;
  title: string;
  status: PublicStatus;
  body: string;
  states: Record<string, ComponentState>;
  existing: boolean;
}

export class StatusPageService {
  private publish: PublishDeps;

  constructor(private d: StatusPageDeps) {
    const sync = d.api && atlassianSyncOn(d.config);
    this.publish = {
      pool: d.pool, clock: d.clock, log: d.log, config: d.config, gate: d.gate,
      ...(sync ? {
        enqueueSync: async (c: pg.PoolClient, statusIncidentId: number, updateId: number) =>
          void (await d.jobs.enqueue(SYNC_QUEUE, { statusIncidentId }, { runAt: d.clock.now(), dedupeKey: `${SYNC_QUEUE}:${updateId}`, maxAttempts: SYNC_ATTEMPTS }, c)),
      } : {}),
      announce: async (incidentId, statusIncidentId, update) => {
        const i = await d.incidents.get(incidentId);
        if (i) await d.messages.published(i, statusIncidentId, update.id, update.status);
      },
    };
  }

  get enabled(): boolean {
    return this.d.config.enabled;
  }

  /** Everything the public routes show, read from approved rows only. */
  async page(): Promise<PublicStatusPage> {
    const now = this.d.clock.now();
    const states = await store.componentStates(this.d.pool);
    const components = this.d.config.components.map((c) => {
      const s = states.get(c.id);
      return { id: c.id, name: c.name, group: c.group ?? null, description: c.description ?? null, state: s?.state ?? 'operational', updatedAt: s?.updatedAt ?? null };
    });
    const incidents = await store.recentIncidents(this.d.pool, new Date(now.getTime() - HISTORY_DAYS * 86_400_000));
    return { title: this.d.config.title, generatedAt: now, overall: worstState(components.map((c) => c.state)), components, incidents };
  }

  publicIncident(id: number): Promise<PublicIncident | undefined> {
    return store.publicIncident(this.d.pool, id);
  }

  /** The form's prefill: the customer template (or the resolved one), and the current public state. */
  async draft(incidentId: number, resolving: boolean): Promise<PublishDraft | undefined> {
    const incident = await this.d.incidents.get(incidentId);
    if (!incident) return undefined;
    const si = await store.statusIncidentFor(this.d.pool, incidentId);
    // Every component this public incident has touched, at its latest published state.
    const states: Record<string, ComponentState> = {};
    for (const u of si ? ((await store.publicIncident(this.d.pool, si.id))?.updates ?? []) : []) Object.assign(states, u.components);
    if (resolving) for (const id of Object.keys(states)) states[id] = 'operational';
    const resolved = resolving || incident.status === 'resolved';
    return {
      incident,
      title: si?.title ?? incident.title,
      status: resolved ? 'resolved' : incident.status,
      body: await this.d.incidents.editableDraft(resolved ? 'resolved' : 'customer', incident),
      states,
      existing: !!si,
    };
  }

  mayPublish(i: Incident, userId: string): Promise<boolean> {
    return this.d.incidents.isMember(i, userId);
  }

  requestPublish(p: PublishInput): Promise<PublishRequestOutcome> {
    return requestPublish(this.publish, p);
  }

  /** Field errors for a form answer (empty when it can go to approval). */
  validate(p: Pick<PublishInput, 'title' | 'status' | 'body' | 'components'>): Record<string, string> {
    const v = validatePublish(this.d.config, p);
    return v.status === 'invalid' ? v.errors : {};
  }

  describe(p: PublishParams): string {
    return describePublish(this.d.config, p);
  }

  execute(p: PublishParams, exec: ActionExecution): Promise<ActionResult> {
    return executePublish(this.publish, p, exec);
  }

  /** `/incident resolve` (any surface): offer the resolved notice when the public incident is still open. */
  async onResolved(i: Incident): Promise<void> {
    if (!this.d.config.enabled) return;
    const si = await store.statusIncidentFor(this.d.pool, i.id);
    if (!si || si.resolvedAt) return;
    await this.d.jobs.enqueue(OFFER_QUEUE, { incidentId: i.id }, { runAt: this.d.clock.now(), dedupeKey: `${OFFER_QUEUE}:${i.id}:${i.resolvedAt?.getTime() ?? 0}`, maxAttempts: 5 });
  }

  async offerResolvedNotice(incidentId: number): Promise<void> {
    const i = await this.d.incidents.get(incidentId);
    const si = await store.statusIncidentFor(this.d.pool, incidentId);
    if (!i || !si || si.resolvedAt || i.status !== 'resolved') return;
    await this.d.messages.offerResolvedNotice(i, si.title);
  }

  /**
   * The sync job. A failure is retried (Statuspage down, rate limited); the last attempt
   * tells the incident channel instead of failing silently. What is public here is not
   * affected either way, and the update stays marked unsynced.
   */
  async sync(statusIncidentId: number, lastAttempt: boolean): Promise<number> {
    if (!this.d.api || !atlassianSyncOn(this.d.config)) return 0;
    try {
      return await syncStatusIncident({ pool: this.d.pool, clock: this.d.clock, config: this.d.config, api: this.d.api }, statusIncidentId);
    } catch (err) {
      if (!lastAttempt) throw err;
      this.d.log.error({ err, statusIncidentId }, 'status page update could not be synced to Atlassian Statuspage; giving up');
      const si = await store.getStatusIncident(this.d.pool, statusIncidentId);
      const i = si?.incidentId ? await this.d.incidents.get(si.incidentId) : undefined;
      const newest = (await store.unsyncedUpdates(this.d.pool, statusIncidentId)).at(-1);
      if (i && newest) await this.d.messages.syncFailed(i, newest.id, (err as Error).message);
      return 0;
    }
  }
}
