/**
 * Acting on a paged incident in PagerDuty as the person who pressed the button: acknowledge,
 * resolve, escalate to the next level, reassign. One use case, read top to bottom: find the
 * page and its PagerDuty incident, map the Slack user to their PagerDuty user by e-mail,
 * record the intent (so PagerDuty's webhook echo is recognised), call the REST API, then write
 * the timeline (MTTA included) and tell the channel. Surface-neutral.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatMessage } from '../chat/surface.js';
import type { Incident } from '../incidents/model.js';
import type { Page } from './model.js';
import { PagerDutyRestError, type IncidentChange, type PagerDutyRest } from './rest.js';
import * as store from './store.js';

export type PdControl = 'acknowledge' | 'resolve' | 'escalate' | 'reassign';
export const PD_CONTROLS: PdControl[] = ['acknowledge', 'resolve', 'escalate', 'reassign'];

const KIND: Record<PdControl, store.PdActionKind> = { acknowledge: 'acknowledged', resolve: 'resolved', escalate: 'escalated', reassign: 'reassigned' };
/** Webhook event types that echo a change made from Slack. */
export const ECHO_OF: Record<string, store.PdActionKind> = {
  'incident.acknowledged': 'acknowledged', 'incident.resolved': 'resolved', 'incident.escalated': 'escalated', 'incident.reassigned': 'reassigned',
};
/** How long after a change its webhook echo is expected. */
export const ECHO_WINDOW_MS = 10 * 60_000;

export interface PdControlRequest {
  actor: string;
  control: PdControl;
  /** The page (one service's alert) to act on; else the incident's latest open page. */
  pageId?: number;
  incidentId?: number;
  /** Reassign: a Slack user (mapped to PagerDuty by e-mail) or an escalation policy id. */
  target?: ReassignTarget;
}

export type PdControlOutcome = { status: 'done'; text: string; incidentId: number } | { status: 'refused'; message: string };

export interface PdControlDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  rest: PagerDutyRest;
  incidents: {
    get(id: number): Promise<Incident | undefined>;
    acknowledge(id: number, actor: string, source: string, at?: Date): Promise<Incident | undefined>;
    recordTimeline(id: number, kind: string, actor: string, payload: Record<string, unknown>): Promise<void>;
  };
  /** The chat user's e-mail address, if the chat surface can see it. */
  emailOf(userId: string): Promise<string | undefined>;
  tell(incident: Pick<Incident, 'id' | 'channelId'>, message: ChatMessage): Promise<void>;
  /** Re-renders the page's "Paged …" message after its PagerDuty state changed. */
  pageChanged(pageId: number): Promise<void>;
  /** Renders what was done, for the channel. */
  doneMessage(o: { actor: string; control: PdControl; service: string; detail?: string }): ChatMessage;
}

/**
 * The PagerDuty user a chat user acts as (their Slack e-mail, looked up with GET /users?query=);
 * a refusal the person can act on when they cannot be mapped.
 */
export async function pdUserOf(
  d: { rest: Pick<PagerDutyRest, 'userByEmail'>; emailOf(userId: string): Promise<string | undefined> },
  slackUser: string,
  who: 'you' | 'them',
): Promise<{ id: string; email: string } | { refused: string }> {
  const email = await d.emailOf(slackUser);
  if (!email) {
    return { refused: `I can't see an e-mail address for ${who === 'you' ? 'you' : `<@${slackUser}>`} in Slack (Firebreak needs the users:read.email scope and a profile e-mail), so I can't act in PagerDuty as ${who === 'you' ? 'you' : 'them'}. Nothing was changed.` };
  }
  const user = await d.rest.userByEmail(email);
  if (!user) return { refused: `No PagerDuty user has the e-mail address ${email} (${who === 'you' ? 'yours' : `<@${slackUser}>'s`} in Slack). Ask a PagerDuty admin to add it, or act in PagerDuty directly. Nothing was changed.` };
  return user;
}

/** Whom a Reassign names: a chat user (acting as their PagerDuty identity) or an escalation policy. */
export type ReassignTarget = { slackUser: string } | { escalationPolicyId: string };

/**
 * What a Reassign asks PagerDuty for and how it reads ("to …"), for incident and alert-group
 * controls alike; a refusal the person can act on when nobody is named or they cannot be mapped.
 */
export async function reassignChange(
  d: Parameters<typeof pdUserOf>[0],
  target: ReassignTarget | undefined,
): Promise<{ change: IncidentChange; detail: string } | { refused: string }> {
  if (!target) return { refused: 'Reassign to whom? Name a person (`@name`) or an escalation policy id (e.g. PABC123).' };
  if ('escalationPolicyId' in target) return { change: { escalationPolicyId: target.escalationPolicyId }, detail: `to escalation policy ${target.escalationPolicyId}` };
  const them = await pdUserOf(d, target.slackUser, 'them');
  if ('refused' in them) return them;
  return { change: { assignUserIds: [them.id] }, detail: `to <@${target.slackUser}>` };
}

const OPEN: Page['status'][] = ['triggered', 'resolve_failed'];

export class PagerDutyControls {
  constructor(private d: PdControlDeps) {}

  private async pageFor(req: PdControlRequest): Promise<Page | undefined> {
    if (req.pageId !== undefined) return store.pageById(this.d.pool, req.pageId);
    if (req.incidentId === undefined) return undefined;
    const pages = await store.pagesForIncident(this.d.pool, req.incidentId);
    return [...pages].reverse().find((p) => OPEN.includes(p.status)) ?? pages.at(-1);
  }

  private pdUser(slackUser: string, who: 'you' | 'them'): Promise<{ id: string; email: string } | { refused: string }> {
    return pdUserOf(this.d, slackUser, who);
  }

  async act(req: PdControlRequest): Promise<PdControlOutcome> {
    const { pool, clock, rest, incidents } = this.d;
    if (!rest.configured()) return { status: 'refused', message: 'The PagerDuty REST API is not configured (PAGERDUTY_API_TOKEN), so Firebreak cannot change PagerDuty incidents.' };
    const page = await this.pageFor(req);
    if (!page) return { status: 'refused', message: 'This incident has no PagerDuty page to act on. `/incident page <service>` pages one.' };
    const incident = await incidents.get(page.incidentId);
    if (!incident) return { status: 'refused', message: `INC-${page.incidentId} no longer exists.` };
    if (page.status === 'resolved' && req.control !== 'resolve') return { status: 'refused', message: `The ${page.service} page of INC-${incident.id} is already resolved in PagerDuty.` };
    try {
      const me = await this.pdUser(req.actor, 'you');
      if ('refused' in me) return { status: 'refused', message: me.refused };
      let pdIncidentId = page.pdIncidentId;
      if (!pdIncidentId) {
        const found = await rest.incidentByKey(page.dedupKey);
        if (!found) return { status: 'refused', message: `PagerDuty has no open incident for the ${page.service} page of INC-${incident.id} (dedup key ${page.dedupKey}). Nothing was changed.` };
        pdIncidentId = found.id;
        await store.rememberPdIncident(pool, page.id, found.id, found.url ?? null);
      }

      let change: IncidentChange;
      let detail: string | undefined;
      let level: number | undefined;
      switch (req.control) {
        case 'acknowledge':
          change = { status: 'acknowledged' };
          break;
        case 'resolve':
          change = { status: 'resolved' };
          break;
        case 'escalate':
          level = (await store.knownEscalationLevel(pool, pdIncidentId)) + 1;
          change = { escalationLevel: level };
          detail = `to level ${level}`;
          break;
        case 'reassign': {
          const r = await reassignChange(this.d, req.target);
          if ('refused' in r) return { status: 'refused', message: r.refused };
          ({ change, detail } = r);
          break;
        }
      }

      const now = clock.now();
      const actionId = await store.recordPdAction(pool, { pageId: page.id, pdIncidentId, action: KIND[req.control], slackUser: req.actor, pdUserId: me.id, ...(level ? { escalationLevel: level } : {}), at: now });
      try {
        await rest.updateIncident(pdIncidentId, me.email, change);
      } catch (e) {
        await store.finishPdAction(pool, actionId, false);
        throw e;
      }
      await store.finishPdAction(pool, actionId, true);

      const base = { service: page.service, pdIncidentId, pdUser: me.id, via: 'slack' };
      if (req.control === 'acknowledge') {
        // The first acknowledgement is the incident's response time (MTTA); later ones are just noted.
        if (incident.acknowledgedAt === null) await incidents.acknowledge(incident.id, req.actor, 'pagerduty', now);
        else await incidents.recordTimeline(incident.id, 'pagerduty.acknowledged', req.actor, { ...base, text: `Acknowledged the ${page.service} page in PagerDuty` });
        await store.acknowledgePage(pool, page.id, req.actor, now);
      } else if (req.control === 'resolve') {
        await store.finishResolve(pool, page.id, true, now);
        await incidents.recordTimeline(incident.id, 'pagerduty.resolved', req.actor, { ...base, text: `Resolved the ${page.service} page in PagerDuty` });
      } else {
        await incidents.recordTimeline(incident.id, `pagerduty.${KIND[req.control]}`, req.actor, { ...base, ...(level ? { escalationLevel: level } : {}), text: `${req.control === 'escalate' ? 'Escalated' : 'Reassigned'} the ${page.service} page in PagerDuty ${detail ?? ''}`.trim() });
      }
      if (req.control === 'acknowledge' || req.control === 'resolve') await this.d.pageChanged(page.id);
      await this.d.tell(incident, this.d.doneMessage({ actor: req.actor, control: req.control, service: page.service, ...(detail ? { detail } : {}) }));
      return { status: 'done', incidentId: incident.id, text: `Done: ${req.control === 'acknowledge' ? 'acknowledged' : req.control === 'resolve' ? 'resolved' : req.control === 'escalate' ? 'escalated' : 'reassigned'} the ${page.service} page of INC-${incident.id} in PagerDuty${detail ? ` ${detail}` : ''}.` };
    } catch (e) {
      if (e instanceof PagerDutyRestError) return { status: 'refused', message: `${e.message}. Nothing was changed in Firebreak; try again or act in PagerDuty directly.` };
      throw e;
    }
  }
}
