/**
 * PagerDuty controls on alert groups that came from PagerDuty (source `pagerduty`: incidents
 * other monitoring raised, fed in by the webhook). Acknowledge / Resolve / Escalate / Reassign
 * act on each firing PagerDuty incident of the group through the REST API v2, as the person
 * who pressed the button, exactly like the controls on a page; what PagerDuty says back (its
 * webhooks, including the echo of our own change) updates what the group's message shows.
 * Surface-neutral: no Slack, no HTTP server.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { AlertGroup, AlertSource, IncomingAlert, StoredAlert } from '../alerts/model.js';
import { ECHO_OF, ECHO_WINDOW_MS, pdUserOf, reassignChange, type PdControl, type ReassignTarget } from './controls.js';
import { PagerDutyRestError, type IncidentChange, type PagerDutyRest } from './rest.js';
import type { PdWebhookEvent } from './webhook-event.js';
import type { PdGroupStatus } from '../templates/alerts.js';
import * as store from './store.js';

/** What these controls need from the alerts area. */
export interface PdAlertGroups {
  group(groupId: number): Promise<AlertGroup | undefined>;
  groupAlerts(groupId: number): Promise<StoredAlert[]>;
  groupsWithAlert(source: AlertSource, fingerprint: string): Promise<number[]>;
  /** Firebreak's own acknowledgement: stops reminders and escalation. */
  acknowledge(groupId: number, user: string): Promise<unknown>;
  unacknowledge(groupId: number, by: string): Promise<unknown>;
  refreshGroups(groupIds: number[]): Promise<void>;
  ingest(alerts: IncomingAlert[]): Promise<unknown>;
}

export interface PdAlertControlDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  rest: Pick<PagerDutyRest, 'configured' | 'userByEmail' | 'updateIncident'>;
  alerts: PdAlertGroups;
  emailOf(userId: string): Promise<string | undefined>;
}

export interface PdAlertControlRequest {
  actor: string;
  control: PdControl;
  groupId: number;
  target?: ReassignTarget;
}

export type PdAlertControlOutcome = { status: 'done'; text: string } | { status: 'refused'; message: string };

const KIND: Record<PdControl, store.PdActionKind> = { acknowledge: 'acknowledged', resolve: 'resolved', escalate: 'escalated', reassign: 'reassigned' };
const PAST: Record<PdControl, string> = { acknowledge: 'acknowledged', resolve: 'resolved', escalate: 'escalated', reassign: 'reassigned' };
/** A group is one alertname or so; a bound keeps one button press from becoming hundreds of calls. */
const MAX_INCIDENTS = 20;
/** PagerDuty event types after which an incident wants attention again. */
const RETRIGGERED = new Set(['incident.unacknowledged', 'incident.reopened', 'incident.triggered']);

const isPd = (a: StoredAlert): boolean => a.source === 'pagerduty';

export class PagerDutyAlertControls {
  constructor(private d: PdAlertControlDeps) {}

  async act(req: PdAlertControlRequest): Promise<PdAlertControlOutcome> {
    const { pool, clock, rest, alerts } = this.d;
    if (!rest.configured()) return { status: 'refused', message: 'The PagerDuty REST API is not configured (PAGERDUTY_API_TOKEN), so Firebreak cannot change PagerDuty incidents.' };
    const group = await alerts.group(req.groupId);
    if (!group) return { status: 'refused', message: `Alert group #${req.groupId} no longer exists; it may have been cleaned up.` };
    const firing = (await alerts.groupAlerts(group.id)).filter((a) => a.status === 'firing' && isPd(a));
    if (firing.length === 0) return { status: 'refused', message: `Group #${group.id} has no firing PagerDuty incident to act on. Nothing was changed.` };
    let targets = firing.slice(0, MAX_INCIDENTS);
    if (req.control === 'acknowledge') {
      const acked = new Set((await store.alertAcks(pool, targets.map((a) => a.fingerprint))).map((a) => a.pdIncidentId));
      targets = targets.filter((a) => !acked.has(a.fingerprint));
      if (targets.length === 0) return { status: 'refused', message: `Every firing PagerDuty incident of group #${group.id} is already acknowledged in PagerDuty. Nothing was changed.` };
    }
    try {
      const me = await pdUserOf(this.d, req.actor, 'you');
      if ('refused' in me) return { status: 'refused', message: me.refused };
      let fixed: IncidentChange | undefined;
      let detail = '';
      if (req.control === 'acknowledge') fixed = { status: 'acknowledged' };
      if (req.control === 'resolve') fixed = { status: 'resolved' };
      if (req.control === 'reassign') {
        const r = await reassignChange(this.d, req.target);
        if ('refused' in r) return { status: 'refused', message: r.refused };
        fixed = r.change;
        detail = ` ${r.detail}`;
      }

      const done: StoredAlert[] = [];
      let failure: PagerDutyRestError | undefined;
      for (const a of targets) {
        const pdIncidentId = a.fingerprint;
        const level = req.control === 'escalate' ? (await store.knownEscalationLevel(pool, pdIncidentId)) + 1 : undefined;
        const change: IncidentChange = fixed ?? { escalationLevel: level! };
        // Recorded first: PagerDuty's webhook about this change may arrive before its answer does.
        const actionId = await store.recordPdAction(pool, { groupId: group.id, pdIncidentId, action: KIND[req.control], slackUser: req.actor, pdUserId: me.id, ...(level ? { escalationLevel: level } : {}), at: clock.now() });
        try {
          await rest.updateIncident(pdIncidentId, me.email, change);
        } catch (e) {
          await store.finishPdAction(pool, actionId, false);
          if (!(e instanceof PagerDutyRestError)) throw e;
          failure = e;
          break;
        }
        await store.finishPdAction(pool, actionId, true);
        done.push(a);
      }

      if (done.length) await this.afterChange(req, group, done);
      const n = (list: unknown[]) => `${list.length} PagerDuty incident${list.length === 1 ? '' : 's'}`;
      if (failure) {
        const rest = targets.length - done.length;
        return {
          status: 'refused',
          message: done.length
            ? `${failure.message}. ${PAST[req.control][0]!.toUpperCase()}${PAST[req.control].slice(1)} ${n(done)} of group #${group.id}${detail}; ${rest} not changed (${targets.slice(done.length).map((a) => a.fingerprint).join(', ')}): try again or act in PagerDuty directly.`
            : `${failure.message}. Nothing was changed; try again or act in PagerDuty directly.`,
        };
      }
      const level = req.control === 'escalate' ? ' to the next escalation level' : '';
      return { status: 'done', text: `Done: ${PAST[req.control]} ${n(done)} of group #${group.id} in PagerDuty${level}${detail}.` };
    } catch (e) {
      if (e instanceof PagerDutyRestError) return { status: 'refused', message: `${e.message}. Nothing was changed; try again or act in PagerDuty directly.` };
      throw e;
    }
  }

  /** What a change PagerDuty accepted means here: the acknowledgement shown, the alerts resolved. */
  private async afterChange(req: PdAlertControlRequest, group: AlertGroup, done: StoredAlert[]): Promise<void> {
    const { pool, clock, alerts } = this.d;
    const now = clock.now();
    if (req.control === 'acknowledge') {
      for (const a of done) await store.acknowledgeAlert(pool, { pdIncidentId: a.fingerprint, acknowledgedBy: req.actor, slackUser: req.actor, acknowledgedAt: now });
      // Firebreak's own acknowledgement too: reminders and escalation stop, as for a local Acknowledge.
      if (!group.acknowledgedBy) await alerts.acknowledge(group.id, req.actor);
      else await alerts.refreshGroups([group.id]);
    } else if (req.control === 'resolve') {
      // PagerDuty accepted the resolve: the alert is resolved at its source now, without waiting
      // for the webhook (whose echo then repeats what the store already has).
      await alerts.ingest(done.map((a) => ({
        source: a.source, fingerprint: a.fingerprint, status: 'resolved' as const, labels: a.labels, annotations: a.annotations,
        startsAt: a.startsAt, endsAt: now, generatorUrl: a.generatorUrl,
      })));
    }
  }

  /**
   * A webhook about a PagerDuty incident Firebreak did not raise: the echo of a change made
   * from a group's buttons is recognised and adds nothing; a change made in PagerDuty (or by
   * anyone else) is shown on the group's message.
   */
  async onWebhook(e: PdWebhookEvent): Promise<void> {
    const pdIncidentId = e.pdIncidentId;
    if (!pdIncidentId) return;
    const groups = await this.d.alerts.groupsWithAlert('pagerduty', pdIncidentId);
    if (groups.length === 0) return;
    const { pool, clock } = this.d;
    const echoOf = ECHO_OF[e.type];
    if (echoOf && (await store.claimEcho(pool, pdIncidentId, echoOf, e.id, clock.now(), ECHO_WINDOW_MS))) {
      this.d.log.debug({ type: e.type, pdIncidentId }, 'PagerDuty webhook echoes a change made from an alert group; already shown');
      return;
    }
    if (e.type === 'incident.acknowledged') {
      const who = e.agentName ?? 'PagerDuty';
      const fresh = await store.acknowledgeAlert(pool, { pdIncidentId, acknowledgedBy: who, slackUser: null, acknowledgedAt: e.occurredAt ?? clock.now() });
      if (!fresh) return;
      for (const id of groups) {
        const g = await this.d.alerts.group(id);
        if (g && !g.acknowledgedBy) await this.d.alerts.acknowledge(id, `pagerduty:${who}`);
      }
      await this.d.alerts.refreshGroups(groups);
      return;
    }
    if (!RETRIGGERED.has(e.type)) return;
    const acks = await store.alertAcks(pool, [pdIncidentId]);
    if (!(await store.clearAlertAck(pool, pdIncidentId))) return;
    // The acknowledgement that came with it goes too: the incident wants attention again.
    const by = acks[0] ? (acks[0].slackUser ?? `pagerduty:${acks[0].acknowledgedBy}`) : undefined;
    if (by) for (const id of groups) await this.d.alerts.unacknowledge(id, by);
    await this.d.alerts.refreshGroups(groups);
  }
}

/** The PagerDuty part of a group message's status; given to the alerts area at construction. */
export class PagerDutyAlertStatus {
  constructor(
    private pool: pg.Pool,
    private configured: () => boolean,
  ) {}

  async status(firing: StoredAlert[]): Promise<PdGroupStatus | undefined> {
    const ids = firing.filter(isPd).map((a) => a.fingerprint);
    if (ids.length === 0) return undefined;
    const acks = await store.alertAcks(this.pool, ids);
    return { controls: this.configured(), incidents: ids.length, acknowledged: acks.map((a) => ({ by: a.slackUser ?? a.acknowledgedBy, slackUser: !!a.slackUser, at: a.acknowledgedAt })) };
  }
}
