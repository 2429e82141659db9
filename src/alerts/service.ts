import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import type { IncidentService } from '../incidents/service.js';
import type { OpsPager } from '../paging/ops-pager.js';
import type { Incident } from '../incidents/model.js';
import type { Severity } from '../incidents/config.js';
import { SEVERITIES } from '../incidents/config.js';
import { ChatError } from '../chat/surface.js';
import { AlertMessages } from './messages.js';
import { alertsDeduplicated, alertsReceived, alertsRouted } from '../ops/metrics.js';
import { groupTitle, type GroupControlStatus } from '../templates/alerts.js';
import { duration } from '../templates/format.js';
import type { Job } from '../jobs/queue.js';
import { matchesAll, parseDuration, type Labels } from './matchers.js';
import { alertTitle, type AlertGroup, type AlertSource, type IncomingAlert, type StoredAlert } from './model.js';
import { compileRoutes, findRouteByKey, matchRoutes, type Route } from './routing.js';
import { compileInhibitRules, isInhibited, sourceContainment, type FiringAlert, type InhibitRule } from './inhibit.js';
import { buildTimeIntervals, routeMuted, type TimeIntervals } from './time-intervals.js';
import * as store from './store.js';
import { IngestQueue, RejectedAlerts } from './ingest-queue.js';
import { alertProblem } from './storable.js';
import { routePendingAlerts, tellTimelines } from './route-alerts.js';

/** One job per group episode: escalates it if still unacknowledged when it runs (route escalate_after). */
export const ESCALATE_QUEUE = 'alerts.escalate';

/** Job queue that wakes the outbox when its next message is due. */
export const FLUSH_QUEUE = 'alerts.flush';
/** Wake-ups further out than this are left to the job loop alone (its poll is close enough). */
const WAKE_TIMER_MAX_MS = 60_000;
/**
 * How long an outbox row stays claimed by the attempt sending it without a renewal (renewed
 * every third of it while the Slack call lasts). After a crash the next attempt waits this
 * long, so a request still on its way to Slack has landed (or never will) before it looks for
 * the message and posts only if there is none.
 */
const POST_CLAIM_MS = 30_000;
/**
 * While webhooks are being stored, routing waits (up to ROUTE_MAX_DEFER_MS) until intake has
 * been quiet this long: in a storm the commits that answer senders get the CPU and the
 * database first, and routing then takes the burst in a few large batches instead of
 * competing with every request. group_wait counts from when alerts arrived, so the wait
 * moves no message; it only bounds how late routing runs behind a storm.
 */
const ROUTE_QUIET_MS = 50;
const ROUTE_MAX_DEFER_MS = 1000;
/** How often a muted route is looked at again. */
const MUTE_RECHECK_MS = 60_000;

type DeclareResult = { status: 'declared' | 'duplicate'; incidentId: number } | { status: 'already'; incidentId: number };

/** Chat errors that mean the channel is not there for us: retrying cannot help. */
const GONE_CHANNEL = new Set(['channel_not_found', 'is_archived', 'not_in_channel']);

/** What alert routing needs from the incidents area. */
export type AlertIncidents = Pick<IncidentService, 'open' | 'get' | 'declare' | 'postToIncident' | 'recordTimeline'>;

/**
 * What other areas know about a group that changes how it is shown and whether it reminds:
 * silences at the source (src/silences). Read when the message renders.
 */
export interface GroupControls {
  status(group: AlertGroup, firing: StoredAlert[], now: Date): Promise<GroupControlStatus>;
}

/** A channel alerts will be posted to, and the group_wait before the first post of a new group. */
export interface Notify {
  channel: string;
  groupWaitSeconds: number;
}

/**
 * Alert intake and routing: stores what monitoring sends, routes it through the
 * Alertmanager-style tree into groups, and keeps one chat message per group current
 * through a paced, PostgreSQL-backed outbox. What it posts is in messages.ts.
 */
export class AlertService {
  readonly root: Route;
  private inhibitRules: InhibitRule[];
  private intervals: TimeIntervals;
  private cooldownMs: number;
  private paceMs: number;
  private pumping = false;
  private again = false;
  private intake: IngestQueue;
  /** This replica's exact-time wake-up for the next pace slot (the job is the durable one). */
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private messages: AlertMessages;

  constructor(
    private ctx: AppContext,
    /** Auto-declare, the Declare button and incident timelines go through the incidents area. */
    private incidents: AlertIncidents,
    /** Escalation pages a PagerDuty service about a group nobody acknowledged. */
    private paging: Pick<OpsPager, 'pageOps'>,
    /** Silences at the source change how a group is shown (src/silences). */
    private controls?: GroupControls,
  ) {
    const c = ctx.config.alerts;
    this.root = compileRoutes(c.route, c.defaultChannel);
    this.inhibitRules = compileInhibitRules(c.inhibit_rules);
    this.intervals = buildTimeIntervals(c.time_intervals);
    this.cooldownMs = parseDuration(c.autoDeclareCooldown);
    this.paceMs = Math.ceil(1000 / c.postsPerSecondPerChannel);
    this.messages = new AlertMessages(ctx, incidents);
    this.intake = new IngestQueue((requests) => store.storeAlertBatches(ctx.pool, requests, ctx.clock.now()));
  }

  /**
   * Stores alerts (the caller answers 2xx only after this resolves, so an acknowledged
   * alert is never lost) and starts routing them in the background. Throws RejectedAlerts
   * (a 4xx for the sender) for alerts no retry can store.
   */
  async ingest(alerts: IncomingAlert[]): Promise<store.IngestResult & { notify: Notify[] }> {
    // Refused before queueing: a value the database cannot hold must not join a shared write.
    const problem = alertProblem(alerts);
    if (problem) throw new RejectedAlerts(problem);
    const r = await this.intake.submit(alerts);
    // A webhook's alerts all share its receiver's source: one counter update then. Resolves from
    // a group's buttons can mix sources, and are counted per source.
    const first = alerts[0]?.source;
    if (first !== undefined && alerts.every((a) => a.source === first)) alertsReceived.inc({ source: first }, alerts.length);
    else {
      const bySource = new Map<string, number>();
      for (const a of alerts) bySource.set(a.source, (bySource.get(a.source) ?? 0) + 1);
      for (const [source, n] of bySource) alertsReceived.inc({ source }, n);
    }
    if (r.duplicates > 0) alertsDeduplicated.inc({ source: alerts[0]!.source }, r.duplicates);
    if (r.accepted > r.duplicates) this.kick();
    return { ...r, notify: this.whereAndWhen(alerts) };
  }

  /**
   * Where the alerts will be posted and after how long a wait, so whoever sent them (a person
   * trying the webhook with curl) knows the silence that follows is group_wait, not a loss.
   */
  private whereAndWhen(alerts: IncomingAlert[]): Notify[] {
    const out = new Map<string, Notify>();
    for (const a of alerts) {
      for (const r of matchRoutes(this.root, a.labels)) {
        const n = { channel: r.opts.channel, groupWaitSeconds: r.opts.groupWaitMs / 1000 };
        out.set(`${n.channel}\u0000${n.groupWaitSeconds}`, n);
      }
    }
    return [...out.values()];
  }

  /** Routes and sends in the background; concurrent kicks coalesce into one more pass. */
  kick(): void {
    this.ctx.background.run('alerts: route and notify', () => this.pump());
  }

  async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        await this.yieldToIntake();
        await this.routePending();
        await this.flush();
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Waits while webhooks are being stored, until intake has been quiet for ROUTE_QUIET_MS or
   * ROUTE_MAX_DEFER_MS have passed (so a storm that never pauses is still routed every second).
   * Real time, not ctx.clock: this paces work on this machine, it is not a schedule.
   */
  private async yieldToIntake(): Promise<void> {
    // Checked with the quiet period from the start: a kick comes right after a commit, when the
    // next requests of a storm may not have arrived yet, and routing then would cut in.
    const until = performance.now() + ROUTE_MAX_DEFER_MS;
    while (this.intake.busy(ROUTE_QUIET_MS) && performance.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(ROUTE_QUIET_MS, until - performance.now())));
    }
  }

  route(labels: Labels): Route[] {
    return matchRoutes(this.root, labels);
  }

  private routeOf(g: AlertGroup): Route {
    return findRouteByKey(this.root, g.routeKey) ?? this.root;
  }

  /** Routes every stored alert whose latest change has not been routed yet (route-alerts.ts). */
  routePending(): Promise<number> {
    return routePendingAlerts({ ctx: this.ctx, root: this.root, incidents: this.incidents });
  }

  /**
   * Sends what is due from the outbox: at most one message per channel per pace slot, so a
   * storm becomes one message per group plus in-place updates. Schedules the next wake-up.
   */
  async flush(): Promise<void> {
    const lockClient = await this.ctx.pool.connect();
    try {
      // Another replica (or pass) is sending; it schedules the next wake-up when done.
      if (!(await store.tryLockOutbox(lockClient))) return;
      try {
        for (let round = 0; round < 20; round++) {
          const now = this.ctx.clock.now();
          const due = await store.dueOutbox(this.ctx.pool, now);
          if (due.length === 0) break;
          for (let i = 0; i < due.length; i += 8) await Promise.all(due.slice(i, i + 8).map((d) => this.deliverSafely(d, now)));
        }
        await this.scheduleWake();
      } finally {
        await store.unlockOutbox(lockClient);
      }
    } finally {
      lockClient.release();
    }
  }

  private async scheduleWake(): Promise<void> {
    const at = await store.nextOutboxAt(this.ctx.pool);
    if (!at) return;
    const now = this.ctx.clock.now();
    const runAt = at > now ? at : new Date(now.getTime() + this.paceMs);
    await this.ctx.jobs.enqueue(FLUSH_QUEUE, {}, { runAt, dedupeKey: `${FLUSH_QUEUE}:${runAt.toISOString()}`, maxAttempts: 3 });
    // The job loop polls once a second, so the job alone starts a pace slot up to a second
    // late: a 1 s pace became one post every ~2 s. A timer for the slot keeps the documented
    // pace; the job still runs it if this replica dies first.
    const delay = runAt.getTime() - now.getTime();
    if (delay > WAKE_TIMER_MAX_MS || Date.now() + delay >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = Date.now() + delay;
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity;
      this.kick();
    }, delay);
    this.wakeTimer.unref();
  }

  /** Stops this replica's wake-up timer (shutdown). */
  stop(): void {
    clearTimeout(this.wakeTimer);
    this.wakeAt = Infinity;
  }

  private async deliverSafely(due: store.DueItem, now: Date): Promise<void> {
    // The row is claimed for this attempt, not just the flush lock held: a PostgreSQL restart
    // ends the lock's session while a post is on its way, and the other replica then posted
    // the group again. Renewed while the attempt lasts; a dead replica's claim lapses.
    const { pool } = this.ctx;
    const claimUntil = () => new Date(this.ctx.clock.now().getTime() + POST_CLAIM_MS);
    const attempt = randomUUID();
    const claim = await store.claimOutbox(pool, due.groupId, due.channel, due.kind, now, claimUntil(), attempt);
    if (!claim) return;
    // Every write of this attempt to its row goes through `by`: once the claim is someone
    // else's, a late answer from Slack changes nothing there (store.ts, HELD_ROW).
    const item = { ...due, ...claim, by: attempt };
    const renew = setInterval(() => {
      store.renewOutboxClaim(pool, item, claimUntil()).catch((err: unknown) => this.ctx.log.warn({ err }, 'could not renew an alert post claim'));
    }, POST_CLAIM_MS / 3);
    renew.unref();
    try {
      await this.deliver(item, now);
    } catch (err) {
      // A channel that does not exist will not appear by retrying: drop this post and tell
      // the ops channel (once per channel per process) what to create or change.
      if (err instanceof ChatError && GONE_CHANNEL.has(err.code)) {
        await store.dropOutbox(this.ctx.pool, item);
        this.ctx.log.error({ groupId: item.groupId, channel: item.channel, code: err.code }, `alerts routed to #${item.channel} cannot be posted (${err.code}); this notification is dropped`);
        await this.messages.reportGoneChannel(item.channel, err.code);
        return;
      }
      // Chat failures must not lose the notification: back off and try again.
      const retryable = err instanceof ChatError && err.retryable;
      const wait = retryable ? 5_000 : Math.min(600_000, 5_000 * 2 ** Math.min(item.attempts, 7));
      const code = err instanceof ChatError ? err.code : (err as Error).message;
      this.ctx.log.warn({ err, groupId: item.groupId, channel: item.channel, kind: item.kind }, 'alert notification failed');
      await store.deferOutbox(this.ctx.pool, item, new Date(now.getTime() + wait), code);
      if (retryable) await store.setPace(this.ctx.pool, item.channel, new Date(now.getTime() + wait));
    } finally {
      clearInterval(renew);
      // Best effort: when PostgreSQL is away the claim lapses by itself. Only this attempt's own
      // claim ends: another replica may have claimed the row since (see renewOutboxClaim).
      await store.renewOutboxClaim(pool, item, null).catch(() => undefined);
    }
  }

  /** What a group looks like now: firing (minus inhibited) and resolved alerts. */
  private async view(g: AlertGroup, now: Date) {
    const alerts = await store.groupAlerts(this.ctx.pool, g.id);
    const firingAll = alerts.filter((a) => a.status === 'firing');
    const resolved = alerts.filter((a) => a.status === 'resolved');
    const inhibitedIds = await this.inhibited(firingAll);
    const firing = firingAll.filter((a) => !inhibitedIds.has(a.id));
    const inhibited = firingAll.filter((a) => inhibitedIds.has(a.id));
    const incident = g.incidentId ? await this.incidents.get(g.incidentId) : undefined;
    const route = this.routeOf(g);
    const controls = await this.controls?.status(g, firing, now);
    const message = this.messages.render({
      group: g, firing, inhibited, resolved, mentions: route.opts.mentions, maxShown: this.ctx.config.alerts.maxAlertsShown, now,
      incident: incident ? { id: incident.id, channelId: incident.channelId } : undefined, controls,
    });
    return { alerts, firing, inhibited, resolved, incident, route, message, controls };
  }

  private async inhibited(firing: StoredAlert[]): Promise<Set<number>> {
    const out = new Set<number>();
    if (this.inhibitRules.length === 0 || firing.length === 0) return out;
    for (const rule of this.inhibitRules) {
      if (!firing.some((a) => matchesAll(rule.target, a.labels))) continue;
      const sources: FiringAlert[] = await store.firingWithLabels(this.ctx.pool, sourceContainment(rule));
      for (const a of firing) if (isInhibited([rule], a, sources)) out.add(a.id);
    }
    return out;
  }

  private async deliver(item: store.DueItem & store.OutboxAttempt, now: Date): Promise<void> {
    const pool = this.ctx.pool;
    const g = await store.getGroup(pool, item.groupId);
    if (!g) return store.dropOutbox(pool, item);
    const route = this.routeOf(g);
    const routedChannel = item.channel === g.channel;
    const defer = (ms: number) => store.deferOutbox(pool, item, new Date(now.getTime() + ms));
    if (routedChannel && routeMuted(this.intervals, route.opts.muteTimeIntervals, route.opts.activeTimeIntervals, now)) return defer(MUTE_RECHECK_MS);
    const v = await this.view(g, now);
    // Every firing alert silenced where it lives counts as silenced here too: no reminders.
    const silencedAtSource = v.firing.length > 0 && !!v.controls?.allFiringSilenced;
    const silenced = (!!g.silencedUntil && g.silencedUntil > now) || silencedAtSource;
    const existing = await store.groupMessage(pool, g.id, item.channel);

    if (item.kind === 'reminder') {
      if (!existing || v.firing.length === 0 || g.acknowledgedBy) return store.dropOutbox(pool, item);
      // Planned work: the message shows the window; nobody needs reminding while it is open.
      if (silenced || v.controls?.maintenance) return defer(silencedAtSource || !silenced ? MUTE_RECHECK_MS : g.silencedUntil!.getTime() - now.getTime());
      await this.messages.remind(existing, v.firing.length, route.opts.repeatIntervalMs);
      await store.setPace(pool, item.channel, new Date(now.getTime() + this.paceMs));
      await store.queueOutbox(pool, [{ groupId: g.id, channel: item.channel, kind: 'reminder', notBefore: new Date(now.getTime() + route.opts.repeatIntervalMs) }], now, true);
      alertsRouted.inc({ route: route.key, action: 'reminded' });
      return;
    }

    if (!existing) {
      if (v.firing.length === 0) {
        // Held back by inhibition: look again at the next group_interval.
        if (v.inhibited.length > 0) return defer(route.opts.groupIntervalMs || MUTE_RECHECK_MS);
        // Resolved before anyone was told: like Alertmanager, say nothing. A change routed
        // since we looked keeps its row, still due, and is looked at again.
        if (!(await store.clearPendingMessage(pool, item, g.version))) return;
        if (routedChannel) await store.markNotified(pool, g.id, g.createdAt, g.version, now, true);
        return;
      }
      if (silenced && routedChannel) return defer(silencedAtSource ? MUTE_RECHECK_MS : g.silencedUntil!.getTime() - now.getTime());
      const ch = await this.messages.findChannel(item.channel);
      if (!ch) throw new ChatError('channel_not_found', `post alerts in #${item.channel}`);
      // An earlier attempt may have posted and died before recording it (kill -9, PostgreSQL
      // restarting): it marked the row first, so look for its message before posting again.
      const earlier = item.attempts > 0 || item.lastError === store.POSTING ? await this.messages.findEarlier(ch.id, g) : undefined;
      if (earlier) {
        await this.messages.updateGroup(earlier.channel, earlier.ts, v.message);
        await store.saveGroupMessage(pool, g.id, { channel: item.channel, channelId: earlier.channel, ts: earlier.ts }, now);
      } else {
        await store.markPosting(pool, item);
        const posted = await this.messages.postGroup(ch.id, g, v.message);
        await store.saveGroupMessage(pool, g.id, { channel: item.channel, channelId: posted.channel, ts: posted.ts }, now);
      }
      alertsRouted.inc({ route: route.key, action: 'posted' });
    } else {
      try {
        await this.messages.updateGroup(existing.channelId, existing.ts, v.message);
      } catch (e) {
        if (!(e instanceof ChatError) || e.code !== 'message_not_found') throw e;
        // Someone deleted the message: post it again rather than lose the group.
        const posted = await this.messages.repostGroup(existing.channelId, v.message);
        await store.saveGroupMessage(pool, g.id, { channel: item.channel, channelId: posted.channel, ts: posted.ts }, now);
      }
      alertsRouted.inc({ route: route.key, action: 'updated' });
    }
    await store.setPace(pool, item.channel, new Date(now.getTime() + this.paceMs));
    // A change routed while we rendered keeps its row (due at the next group_interval).
    if (!(await store.clearPendingMessage(pool, item, g.version))) await defer(route.opts.groupIntervalMs);
    if (!routedChannel) return;

    // The episode ends only if nothing fires by now (store.markNotified): the reminder and the
    // incident's "all resolved" follow what was recorded, not what this render saw.
    const allResolved = await store.markNotified(pool, g.id, g.createdAt, g.version, now, v.firing.length === 0 && v.inhibited.length === 0);
    if (v.firing.length > 0 && route.opts.escalateAfterMs > 0 && route.opts.escalateTo && !g.acknowledgedBy && !g.escalatedAt) {
      // Once per episode (the dedupe key); the job decides when it runs whether anyone acted.
      await this.ctx.jobs.enqueue(ESCALATE_QUEUE, { groupId: g.id, episode: g.createdAt.toISOString() }, {
        runAt: new Date(now.getTime() + route.opts.escalateAfterMs), dedupeKey: `${ESCALATE_QUEUE}:${g.id}:${g.createdAt.getTime()}`, maxAttempts: 5,
      });
    }
    if (v.firing.length > 0) {
      await store.queueOutbox(pool, [{ groupId: g.id, channel: item.channel, kind: 'reminder', notBefore: new Date(now.getTime() + route.opts.repeatIntervalMs) }], now, true);
      // A maintenance window is planned work: no incident for what it covers.
      if (!v.controls?.maintenance) await this.maybeAutoDeclare(g, route, v.alerts, now);
    }
    if (allResolved) {
      await store.deleteOutbox(pool, g.id, item.channel, 'reminder');
      if (g.incidentId && !g.allResolvedNoticed && v.incident && v.incident.status !== 'resolved') {
        await this.messages.resolvedInIncident(g.incidentId, g, v.alerts);
      }
    }
  }

  /**
   * Escalates a group episode nobody acknowledged, silenced or resolved within its route's
   * escalate_after: once (a conditional UPDATE claims it, whatever the replica or re-run), then
   * pages, mentions or declares, and says so in the group's thread.
   */
  async runEscalation(job: Job): Promise<void> {
    const { groupId, episode, since } = job.payload as { groupId: number; episode: string; since?: string };
    const now = this.ctx.clock.now();
    const g = await store.getGroup(this.ctx.pool, groupId);
    if (!g || g.createdAt.toISOString() !== episode || g.acknowledgedBy || g.escalatedAt) return;
    // Only the job of the latest un-acknowledgement counts: an earlier one would escalate before
    // escalate_after has passed since nobody was on it.
    if ((g.unacknowledgedAt?.toISOString() ?? undefined) !== since) return;
    const route = this.routeOf(g);
    const to = route.opts.escalateTo;
    if (!to) return;
    const alerts = await store.groupAlerts(this.ctx.pool, g.id);
    const firing = alerts.filter((a) => a.status === 'firing');
    if (firing.length === 0) return;
    if (g.silencedUntil && g.silencedUntil > now) return;
    const controls = await this.controls?.status(g, firing, now);
    if (controls?.allFiringSilenced || controls?.maintenance) return;
    const claimed = await store.claimEscalation(this.ctx.pool, g.id, g.createdAt, now);
    if (!claimed) return;
    const title = groupTitle(g, alerts);
    const after = route.opts.escalateAfterMs;
    let outcome: string;
    if (to.mention) {
      outcome = `escalating to ${to.mention}`;
    } else if (to.pagerduty_service) {
      const paged = await this.paging.pageOps({
        dedupKey: `alertgroup-${g.id}-${g.createdAt.getTime()}`, summary: `Not acknowledged after ${duration(after)}: ${title} (${firing.length} firing)`,
        severity: 'critical', details: { groupId: g.id, groupLabels: g.groupLabels, firing: firing.length },
      }, to.pagerduty_service);
      outcome = paged ? `paged *${to.pagerduty_service}* on PagerDuty` : `could not page *${to.pagerduty_service}*: it has no PagerDuty routing key here`;
    } else {
      const out = await this.declareFromGroup(g.id, 'firebreak:escalation', `escalation:${g.id}:${g.createdAt.getTime()}`, to.declare);
      outcome = out && (out.status === 'declared' || out.status === 'duplicate' || out.status === 'already') ? `declared INC-${out.incidentId} (${to.declare})` : 'could not declare an incident: the group is gone';
    }
    this.ctx.log.info({ groupId: g.id, route: route.key }, `alert group escalated: ${outcome}`);
    if (g.incidentId) await this.incidents.recordTimeline(g.incidentId, 'alert.escalated', 'firebreak', { text: `Alert group #${g.id} escalated: ${outcome}`, groupId: g.id });
    const msg = await store.groupMessage(this.ctx.pool, g.id, g.channel);
    if (msg) await this.messages.escalated(msg, firing.length, after, outcome);
  }

  /** At most one incident per alert group: skipped while one is open or inside the cool-down. */
  private async maybeAutoDeclare(g: AlertGroup, route: Route, alerts: StoredAlert[], now: Date): Promise<void> {
    const ad = route.opts.autoDeclare;
    const incidents = this.incidents;
    if (!ad) return;
    if (g.incidentId) {
      const current = await incidents.get(g.incidentId);
      if (current && current.status !== 'resolved') return;
    }
    const n = await store.claimDeclare(this.ctx.pool, g.id, now, this.cooldownMs);
    if (n === null) return;
    const firing = alerts.filter((a) => a.status === 'firing');
    const first = firing[0] ?? alerts[0];
    const title = (ad.title ?? groupTitle(g, alerts)).slice(0, 120);
    let incidentId: number;
    try {
      const out = await incidents.declare(
        {
          title, severity: ad.severity, actor: `alert:${first?.source ?? 'alerts'}`, requestKey: `alertgroup:${g.id}:${n}`,
          service: first?.labels.service, summary: first?.annotations.description ?? first?.annotations.summary,
        },
      );
      incidentId = out.incident.id;
    } catch (err) {
      // Give the claim back and look again shortly; the same request key makes the retry
      // return the incident if it was recorded after all.
      await store.releaseDeclare(this.ctx.pool, g.id, n, g.lastDeclaredAt);
      await store.queueOutbox(this.ctx.pool, [{ groupId: g.id, channel: g.channel, kind: 'message', notBefore: new Date(now.getTime() + 30_000) }], now);
      throw err;
    }
    await this.attach(g, incidentId, firing);
    alertsRouted.inc({ route: route.key, action: 'declared' });
  }

  private async attach(g: AlertGroup, incidentId: number, firing: StoredAlert[]): Promise<void> {
    const now = this.ctx.clock.now();
    await store.attachIncident(this.ctx.pool, g.id, incidentId);
    const fresh = await store.reportAlertsToIncidents(this.ctx.pool, firing.map((a) => ({ alertId: a.id, incidentId, status: 'firing' as const })), now);
    await tellTimelines(this.incidents,
      fresh.map((r) => {
        const a = firing.find((x) => x.id === r.alertId)!;
        return { r, source: a.source, title: alertTitle(a), labels: a.labels, groupId: g.id };
      }),
    );
    // The incident's setup may have made its channel already (then its ready hook found no
    // group attached yet): the group's message goes there now.
    const channel = (await this.incidents.get(incidentId))?.channelId;
    await store.queueOutbox(this.ctx.pool, [
      { groupId: g.id, channel: g.channel, kind: 'message', notBefore: now },
      ...(channel ? [{ groupId: g.id, channel, kind: 'message' as const, notBefore: now }] : []),
    ], now);
  }

  /**
   * Hook: the incident's channel exists, so the messages of its alert groups go there too. Runs
   * on whichever replica ran the setup (and again on a retry: queueing is idempotent, the
   * message is then edited in place).
   */
  async incidentRoomReady(incident: Incident): Promise<void> {
    if (!incident.channelId) return;
    const groups = await store.groupsOfIncident(this.ctx.pool, incident.id);
    if (groups.length === 0) return;
    const now = this.ctx.clock.now();
    await store.queueOutbox(this.ctx.pool, groups.map((groupId) => ({ groupId, channel: incident.channelId!, kind: 'message' as const, notBefore: now })), now);
    this.kick();
  }

  /** Deletes resolved alerts older than alerts.retentionDays. */
  async prune(): Promise<{ alerts: number; groups: number }> {
    const cutoff = new Date(this.ctx.clock.now().getTime() - this.ctx.config.alerts.retentionDays * 86_400_000);
    const r = await store.pruneAlerts(this.ctx.pool, cutoff);
    if (r.alerts || r.groups) this.ctx.log.info({ ...r, cutoff }, 'alerts retention');
    return r;
  }

  // ---- People acting on a group message (src/handlers/alerts.ts) ----

  async group(groupId: number): Promise<AlertGroup | undefined> {
    return store.getGroup(this.ctx.pool, groupId);
  }

  async groupAlerts(groupId: number): Promise<StoredAlert[]> {
    return store.groupAlerts(this.ctx.pool, groupId);
  }

  /** Groups that have a message, with their firing alerts: what a new or ended silence may change. */
  async shownGroups(): Promise<{ groupId: number; firing: StoredAlert[] }[]> {
    return store.shownGroupsWithFiring(this.ctx.pool);
  }

  /** The groups an alert belongs to (a PagerDuty incident's, by its id). */
  async groupsWithAlert(source: AlertSource, fingerprint: string): Promise<number[]> {
    return store.groupsWithAlert(this.ctx.pool, source, fingerprint);
  }

  /** Re-renders these groups' messages (a silence or maintenance changed how they look). */
  async refreshGroups(groupIds: number[]): Promise<void> {
    for (const id of new Set(groupIds)) {
      const g = await store.getGroup(this.ctx.pool, id);
      if (g) await this.refreshEverywhere(g);
    }
  }

  /** Ends Firebreak's own mute of a group (its source silence expired, or someone unmuted it). */
  async unsilence(groupId: number, user: string): Promise<AlertGroup | undefined> {
    const g = await store.unsilenceGroup(this.ctx.pool, groupId);
    if (!g) return undefined;
    if (g.incidentId) await this.incidents.recordTimeline(g.incidentId, 'alert.unsilenced', user, { text: `Alert group #${g.id} no longer silenced`, groupId: g.id });
    await this.refreshEverywhere(g);
    return g;
  }

  async titleOf(g: AlertGroup): Promise<string> {
    return groupTitle(g, await store.groupAlerts(this.ctx.pool, g.id));
  }

  private async refreshEverywhere(g: AlertGroup): Promise<void> {
    const now = this.ctx.clock.now();
    const messages = await store.groupMessages(this.ctx.pool, g.id);
    await store.queueOutbox(this.ctx.pool, messages.map((m) => ({ groupId: g.id, channel: m.channel, kind: 'message' as const, notBefore: now })), now);
    this.kick();
  }

  async acknowledge(groupId: number, user: string): Promise<{ status: 'acknowledged' | 'already'; group: AlertGroup } | undefined> {
    const before = await store.getGroup(this.ctx.pool, groupId);
    if (!before) return undefined;
    if (before.acknowledgedBy) return { status: 'already', group: before };
    const g = (await store.acknowledgeGroup(this.ctx.pool, groupId, user, this.ctx.clock.now()))!;
    if (g.incidentId) await this.incidents.recordTimeline(g.incidentId, 'alert.acknowledged', user, { text: `Alert group #${g.id} acknowledged`, groupId: g.id });
    await this.refreshEverywhere(g);
    return { status: 'acknowledged', group: g };
  }

  /** Withdraws the acknowledgement `by` made (a PagerDuty incident was unacknowledged or reopened there). */
  async unacknowledge(groupId: number, by: string): Promise<AlertGroup | undefined> {
    const now = this.ctx.clock.now();
    const g = await store.unacknowledgeGroup(this.ctx.pool, groupId, by, now);
    if (!g) return undefined;
    if (g.incidentId) await this.incidents.recordTimeline(g.incidentId, 'alert.unacknowledged', by, { text: `Alert group #${g.id} wants attention again (${by})`, groupId: g.id });
    // The episode's escalation job may already have run and stood down while it was acknowledged:
    // nobody is on it again, so escalate_after counts afresh from now (once, like the first).
    const route = this.routeOf(g);
    if (route.opts.escalateAfterMs > 0 && route.opts.escalateTo && !g.escalatedAt) {
      await this.ctx.jobs.enqueue(ESCALATE_QUEUE, { groupId: g.id, episode: g.createdAt.toISOString(), since: now.toISOString() }, {
        runAt: new Date(now.getTime() + route.opts.escalateAfterMs), dedupeKey: `${ESCALATE_QUEUE}:${g.id}:${g.createdAt.getTime()}:${now.getTime()}`, maxAttempts: 5,
      });
    }
    await this.refreshEverywhere(g);
    return g;
  }

  async silence(groupId: number, user: string, ms: number): Promise<AlertGroup | undefined> {
    const until = new Date(this.ctx.clock.now().getTime() + ms);
    const g = await store.silenceGroup(this.ctx.pool, groupId, user, until);
    if (!g) return undefined;
    if (g.incidentId) await this.incidents.recordTimeline(g.incidentId, 'alert.silenced', user, { text: `Alert group #${g.id} silenced until ${until.toISOString()}`, groupId: g.id });
    await this.refreshEverywhere(g);
    return g;
  }

  /** The severity the alerts ask for (most severe mapped label), else the configured default. */
  severityFor(alerts: StoredAlert[]): Severity {
    const c = this.ctx.config.alerts;
    const mapped = alerts.map((a) => c.severityMap[(a.labels[c.severityLabel] ?? '').toLowerCase()]).filter((s): s is Severity => !!s);
    return mapped.sort((a, b) => SEVERITIES.indexOf(a) - SEVERITIES.indexOf(b))[0] ?? c.defaultSeverity;
  }

  async declareFromGroup(groupId: number, user: string, requestKey: string, severity?: Severity): Promise<DeclareResult | undefined> {
    const incidents = this.incidents;
    const g = await store.getGroup(this.ctx.pool, groupId);
    if (!g) return undefined;
    if (g.incidentId) {
      const current = await incidents.get(g.incidentId);
      if (current && current.status !== 'resolved') return { status: 'already', incidentId: current.id };
    }
    const alerts = await store.groupAlerts(this.ctx.pool, g.id);
    const firing = alerts.filter((a) => a.status === 'firing');
    const first = firing[0] ?? alerts[0];
    const out = await incidents.declare(
      {
        title: groupTitle(g, alerts).slice(0, 120), severity: severity ?? this.severityFor(firing.length ? firing : alerts), actor: user,
        requestKey: `alertbutton:${requestKey}`, service: first?.labels.service, summary: first?.annotations.description ?? first?.annotations.summary,
      },
    );
    await this.attach(g, out.incident.id, firing);
    this.kick();
    return { status: out.status, incidentId: out.incident.id };
  }
}
