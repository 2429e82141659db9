import type { AppContext } from '../context.js';
import type { ChatMessage, PostedMessage } from '../chat/surface.js';
import { withTransaction } from '../db/pool.js';
import type { Job } from '../jobs/queue.js';
import type { Severity } from '../incidents/config.js';
import { SEVERITIES } from '../incidents/config.js';
import type { Incident } from '../incidents/model.js';
import type { IncidentService } from '../incidents/service.js';
import type { AlertService } from '../alerts/service.js';
import * as tpl from '../templates/paging.js';
import { deliverWithRetries, policyFromConfig, timerSleep, type DeliveryOutcome, type Sleep } from './delivery.js';
import { dedupKeyFor, PD_SEVERITY, pageSummary, type Page, type PageRequestOutcome } from './model.js';
import { appendEvent } from '../events/log.js';
import { PagerDutyProvider } from './pagerduty.js';
import type { AlertEvent, AttemptResult, OnCallEntry, PagingProvider } from './provider.js';
import { DEFAULT_SERVICE, resolveRoutingKeys, routingKeyEnvFor, type RoutingKey } from './routing.js';
import { ECHO_OF, ECHO_WINDOW_MS } from './controls.js';
import * as store from './store.js';
import type { PagerDutyAlertControls } from './alert-controls.js';
import type { OpsPage } from './ops-pager.js';
import { alertFromWebhookEvent, type PdWebhookEvent } from './webhook-event.js';
import { PagingMessages } from './messages.js';

/** Job queues: deliveries and webhook handling survive a restart and run once across replicas. */
export const DELIVER_QUEUE = 'paging.deliver';
/**
 * Runs of the deliver job before a page whose failures were all worth retrying is given up:
 * the queue waits 30 s, 1, 2, 4, 8, 16 and 32 min between them, about an hour in all. A page
 * must not be lost to a PagerDuty outage (or a fault storm) shorter than that.
 */
export const DELIVER_RUNS = 8;
export const RESOLVE_QUEUE = 'paging.resolve';
export const WEBHOOK_QUEUE = 'paging.webhook';

const RETRY_REASON = 'retry';

export interface PagingDeps {
  provider?: PagingProvider;
  sleep?: Sleep;
  /** Resolved once by the composition root, which also tells the incidents area whether paging is on. */
  routingKeys?: Map<string, RoutingKey>;
  /** Webhooks about PagerDuty incidents Firebreak did not raise (alerts of source `pagerduty`). */
  alertControls?: Pick<PagerDutyAlertControls, 'onWebhook'>;
}

/** What paging needs from the incidents area. */
export type PagingIncidents = Pick<IncidentService, 'get' | 'recordTimeline' | 'acknowledge' | 'recordPagerDutyEventOnce' | 'postToIncident'>;
/** What paging needs from alert intake: PagerDuty incidents it did not raise are alerts. */
export type PagingAlerts = Pick<AlertService, 'ingest'>;


/** The failure message a Retry paging click came from, so the retry's outcome replaces it. */
export interface FailureMessageRef {
  channel: string;
  ts: string;
}

interface DeliverJob {
  pageId: number;
  actor: string;
  retryOf?: FailureMessageRef;
}

interface AttemptLog {
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
}

/**
 * Paging use cases: page on declare and on severity raises, resolve on resolve, retry after
 * a failure, take PagerDuty's acknowledgements and escalations back, and say who is on call.
 * Surface-neutral. Nothing a person waits on talks to PagerDuty: requests claim a page and
 * queue a job, and the job does the slow part.
 */
export class PagingService {
  readonly provider: PagingProvider;
  /** How the retry loop waits between attempts; tests replace it to skip real seconds. */
  sleep: Sleep;
  private readonly keys: Map<string, RoutingKey>;
  private readonly alertControls: Pick<PagerDutyAlertControls, 'onWebhook'> | undefined;
  private readonly messages: PagingMessages;

  constructor(
    private ctx: AppContext,
    /** Pages belong to incidents; PagerDuty incidents Firebreak did not raise become alerts. */
    private areas: { incidents: PagingIncidents; alerts: PagingAlerts },
    deps: PagingDeps = {},
  ) {
    this.provider = deps.provider ?? new PagerDutyProvider(ctx.config.paging, () => ctx.clock.now());
    this.sleep = deps.sleep ?? timerSleep;
    this.keys = deps.routingKeys ?? resolveRoutingKeys(ctx.config.paging, process.env);
    this.alertControls = deps.alertControls;
    this.messages = new PagingMessages(ctx, { postToIncident: (id, m) => this.incidents.postToIncident(id, m) });
  }

  private get incidents(): PagingIncidents {
    return this.areas.incidents;
  }

  /** True when at least one routing key is configured; otherwise declares simply do not page. */
  enabled(): boolean {
    return this.keys.size > 0;
  }

  /** Services that can be paged right now (have a routing key). */
  pageableServices(): string[] {
    return [...this.keys.keys()].sort();
  }

  /** Every service named in config plus `default`, keyed or not. */
  knownServices(): string[] {
    return [...new Set([DEFAULT_SERVICE, ...Object.keys(this.ctx.config.paging.services)])].sort();
  }

  /** The "Paging: …" line for an incident: which services were paged and how that went. */
  async headline(incidentId: number): Promise<string> {
    return tpl.pagingHeadline(this.enabled(), await store.pagesForIncident(this.ctx.pool, incidentId));
  }

  pages(incidentId: number): Promise<Page[]> {
    return store.pagesForIncident(this.ctx.pool, incidentId);
  }

  /** The service an incident pages: its own when that has a key, else the default. */
  serviceFor(incident: Pick<Incident, 'service'>): string | undefined {
    const own = incident.service?.trim().toLowerCase();
    if (own && this.keys.has(own)) return own;
    return this.keys.has(DEFAULT_SERVICE) ? DEFAULT_SERVICE : undefined;
  }

  severityPages(sev: Severity): boolean {
    return this.ctx.config.incidents.severities[sev].page;
  }

  // --- reactions to incident hooks ---------------------------------------------------------

  async onDeclared(incident: Incident, actor: string): Promise<void> {
    if (!this.severityPages(incident.severity)) return;
    const target = this.serviceFor(incident);
    if (!target) return;
    await this.requestPage(incident.id, target, actor, `declared ${incident.severity}`);
  }

  /** Raising to a severity that pages pages, unless this service was already paged (or is being). */
  async onSeverityChanged(incident: Incident, from: Severity, to: Severity, actor: string): Promise<void> {
    const raised = SEVERITIES.indexOf(to) < SEVERITIES.indexOf(from);
    if (!raised || !this.severityPages(to)) return;
    const target = this.serviceFor(incident);
    if (!target) return;
    const existing = await store.pageFor(this.ctx.pool, incident.id, target);
    if (existing && (existing.status === 'triggered' || existing.status === 'pending')) return;
    await this.requestPage(incident.id, target, actor, `severity raised ${from} → ${to}`);
  }

  /** A reopened incident is a live problem again: page as a declare at its severity would. */
  async onReopened(incident: Incident, actor: string): Promise<void> {
    if (!this.severityPages(incident.severity)) return;
    const target = this.serviceFor(incident);
    if (!target) return;
    await this.requestPage(incident.id, target, actor, `reopened at ${incident.severity}`);
  }

  async onResolved(incident: Incident, actor: string): Promise<void> {
    const pages = await store.pagesForIncident(this.ctx.pool, incident.id);
    if (pages.length === 0) return;
    await this.ctx.jobs.enqueue(RESOLVE_QUEUE, { incidentId: incident.id, actor }, { runAt: this.ctx.clock.now() });
  }

  // --- use cases ----------------------------------------------------------------------------

  /**
   * Claims the page and queues its delivery in one transaction. Returns at once: the caller
   * learns whether a delivery started, not whether PagerDuty took it (the channel hears that).
   */
  async requestPage(incidentId: number, service: string, actor: string, reason: string, retryOf?: FailureMessageRef): Promise<PageRequestOutcome> {
    if (!this.enabled()) return { status: 'disabled' };
    const name = service.trim().toLowerCase();
    const key = this.keys.get(name);
    if (!key) {
      if (!this.knownServices().includes(name)) return { status: 'unknown_service', service: name, known: this.pageableServices() };
      return { status: 'no_key', service: name, envName: routingKeyEnvFor(name, this.ctx.config.paging) };
    }
    const incident = await this.incidents.get(incidentId);
    if (!incident) return { status: 'no_incident', incidentId };
    if (incident.status === 'resolved') return { status: 'incident_resolved', incidentId };
    const now = this.ctx.clock.now();
    return withTransaction(this.ctx.pool, async (tx) => {
      const claim = await store.claimPage(tx, {
        incidentId, service: name, routingKeyEnv: key.envName, requestedBy: actor, reason, at: now,
        dedupKey: dedupKeyFor(this.ctx.config.paging.dedupKeyPrefix, incidentId, name), isRetry: reason === RETRY_REASON,
      });
      if (!claim.claimed) return { status: 'already', page: claim.page };
      const job: DeliverJob = { pageId: claim.page.id, actor, ...(retryOf ? { retryOf } : {}) };
      await this.ctx.jobs.enqueue(DELIVER_QUEUE, { ...job }, { runAt: now, maxAttempts: DELIVER_RUNS }, tx);
      return { status: 'started', page: claim.page };
    });
  }

  /** The Retry paging button. */
  retry(incidentId: number, service: string, actor: string, message?: FailureMessageRef): Promise<PageRequestOutcome> {
    return this.requestPage(incidentId, service, actor, RETRY_REASON, message);
  }

  /** Everyone on call now, for `default` or a named service's escalation policy. */
  async onCall(service?: string): Promise<{ scope: string; entries: OnCallEntry[] }> {
    const cfg = this.ctx.config.paging;
    const name = service?.trim().toLowerCase();
    let policy: string | undefined;
    if (name && name !== DEFAULT_SERVICE) {
      const svc = cfg.services[name];
      if (!svc) throw new PagingUserError(`I don't know the service \`${name}\`. Known services: ${this.knownServices().join(', ')}.`);
      if (!svc.escalationPolicyId) throw new PagingUserError(`\`${name}\` has no \`escalationPolicyId\` in \`paging.services.${name}\`, so I can't tell who is on call for it.`);
      policy = svc.escalationPolicyId;
    } else policy = cfg.defaultEscalationPolicyId;
    // One budget for every page of the answer: a person is waiting for this.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), cfg.delivery.timeoutSeconds * 1000 * 2);
    timer.unref();
    try {
      const entries = await this.provider.onCalls(policy ? { escalationPolicyIds: [policy] } : {}, controller.signal);
      return { scope: name ?? (policy ? DEFAULT_SERVICE : 'every escalation policy'), entries };
    } finally {
      clearTimeout(timer);
    }
  }

  // --- jobs ---------------------------------------------------------------------------------

  /** Job: deliver a claimed trigger. A page no longer pending was handled by an earlier run. */
  async runDeliverJob(job: Job): Promise<void> {
    const p = job.payload as unknown as DeliverJob;
    const page = await store.pageById(this.ctx.pool, p.pageId);
    if (!page || page.status !== 'pending') return;
    await this.deliverTrigger(page, p.actor, p.retryOf, job.attempts);
  }

  async runResolveJob(job: Job): Promise<void> {
    const p = job.payload as { incidentId: number; actor: string };
    await this.resolvePages(p.incidentId, p.actor);
  }

  async runWebhookJob(job: Job): Promise<void> {
    await this.handleWebhookEvent(reviveEvent(job.payload.event as SerializedEvent));
  }

  // --- delivery -----------------------------------------------------------------------------

  private async deliverTrigger(page: Page, actor: string, retryOf?: FailureMessageRef, run = DELIVER_RUNS): Promise<DeliveryOutcome> {
    const incident = await this.incidents.get(page.incidentId);
    const key = this.keys.get(page.service);
    if (!incident || !key) {
      const error = !incident ? `incident ${page.incidentId} no longer exists` : `no routing key for ${page.service} (${page.routingKeyEnv} is unset)`;
      await store.setPageStatus(this.ctx.pool, page.id, 'failed', this.ctx.clock.now());
      if (incident) {
        await this.incidents.recordTimeline(page.incidentId, 'incident.page_failed', actor, { service: page.service, dedupKey: page.dedupKey, attempts: 0, error, text: `Paging ${page.service} failed: ${error}` });
        await this.tell(incident, tpl.pageFailedMessage(page, 0, error));
      }
      return { ok: false, attempts: 0, lastError: error };
    }
    const { outcome, log } = await this.send(page, this.triggerEvent(page, incident, key));
    const at = this.ctx.clock.now();
    const base = { service: page.service, dedupKey: page.dedupKey, routingKeyEnv: page.routingKeyEnv, attempts: outcome.attempts, attemptLog: log, reason: page.reason };
    if (outcome.ok) {
      const done = await store.setPageStatus(this.ctx.pool, page.id, 'triggered', at);
      await this.incidents.recordTimeline(page.incidentId, 'incident.paged', actor, {
        ...base, severity: incident.severity, pdSeverity: PD_SEVERITY[incident.severity], text: `Paged ${page.service} on PagerDuty (${page.reason})`,
      });
      const notice = tpl.pagedNotice(done, incident.severity, outcome.attempts, retryOf ? actor : undefined, !!this.ctx.config.paging.apiToken);
      const posted = await this.messages.replaceOrTell(incident, retryOf, notice);
      if (posted) await store.rememberNotice(this.ctx.pool, page.id, posted, { attempts: outcome.attempts, retriedBy: retryOf ? actor : null });
      // Resolved while the trigger was in flight: that resolve saw nothing to close, so close it now.
      const now = await this.incidents.get(page.incidentId);
      if (now?.status === 'resolved') await this.resolvePages(page.incidentId, 'firebreak');
    } else if (outcome.retryable && run < DELIVER_RUNS) {
      // PagerDuty (or the way to it) failing for a while is no reason to leave on-call
      // unpaged: the page stays pending and the queue runs this job again later. The channel
      // hears it once, so people can page by hand meanwhile.
      if (run === 1) {
        await this.incidents.recordTimeline(page.incidentId, 'incident.page_delayed', actor, { ...base, error: outcome.lastError, text: `Paging ${page.service} delayed: ${outcome.lastError}` });
        await this.tell(incident, tpl.pageDelayedMessage(page, outcome.attempts, outcome.lastError ?? 'unknown error'));
      }
      throw new Error(`PagerDuty trigger for ${page.service} (INC-${page.incidentId}) not accepted after ${outcome.attempts} attempts: ${outcome.lastError}`);
    } else {
      const failed = await store.setPageStatus(this.ctx.pool, page.id, 'failed', at);
      await this.incidents.recordTimeline(page.incidentId, 'incident.page_failed', actor, {
        ...base, ...(outcome.status ? { status: outcome.status } : {}), error: outcome.lastError, text: `Paging ${page.service} failed: ${outcome.lastError}`,
      });
      const msg = tpl.pageFailedMessage(failed, outcome.attempts, outcome.lastError ?? 'unknown error');
      // A failed retry replaces its own message, so the channel keeps one live Retry button.
      await this.messages.replaceOrTell(incident, retryOf, msg);
    }
    return outcome;
  }

  /** Resolves every alert this incident triggered, and any resolve that failed before. */
  async resolvePages(incidentId: number, actor: string): Promise<void> {
    const pages = await store.pagesToResolve(this.ctx.pool, incidentId);
    if (pages.length === 0) return;
    const incident = await this.incidents.get(incidentId);
    for (const page of pages) {
      const key = this.keys.get(page.service);
      let outcome: DeliveryOutcome;
      let log: AttemptLog[] = [];
      if (key) ({ outcome, log } = await this.send(page, { action: 'resolve', routingKey: key.key, dedupKey: page.dedupKey }));
      else outcome = { ok: false, attempts: 0, lastError: `no routing key for ${page.service} any more (${page.routingKeyEnv} is unset)` };
      const done = await store.finishResolve(this.ctx.pool, page.id, outcome.ok, this.ctx.clock.now());
      if (!done) continue; // re-paged meanwhile: that page is someone else's now
      const payload = { service: page.service, dedupKey: page.dedupKey, attempts: outcome.attempts, attemptLog: log };
      if (outcome.ok) {
        await this.incidents.recordTimeline(incidentId, 'incident.page_resolved', actor, { ...payload, text: `Resolved the ${page.service} alert in PagerDuty` });
      } else {
        await this.incidents.recordTimeline(incidentId, 'incident.page_resolve_failed', actor, { ...payload, error: outcome.lastError, text: `Resolving the ${page.service} alert in PagerDuty failed: ${outcome.lastError}` });
        if (incident) await this.tell(incident, tpl.resolveFailedMessage(page, outcome.lastError ?? 'unknown error'));
      }
    }
  }

  private async send(page: Page, event: AlertEvent): Promise<{ outcome: DeliveryOutcome; log: AttemptLog[] }> {
    const log: AttemptLog[] = [];
    const outcome = await deliverWithRetries(
      (signal) => this.provider.send(event, signal),
      policyFromConfig(this.ctx.config.paging.delivery),
      this.sleep,
      async (attempt, r: AttemptResult) => {
        log.push(r.ok ? { attempt, ok: true, status: r.status } : { attempt, ok: false, ...(r.status ? { status: r.status } : {}), error: r.error });
        await store.recordAttempt(this.ctx.pool, page.id, r.ok ? null : r.error, this.ctx.clock.now());
        if (!r.ok) this.ctx.log.warn({ incidentId: page.incidentId, service: page.service, attempt, status: r.status, error: r.error, action: event.action }, 'PagerDuty event not accepted');
      },
      this.ctx.shutdownSignal,
    );
    // Failing the job leaves the page as it was; the queue hands the job to a replica that stays up.
    if (outcome.interrupted) throw new Error(`PagerDuty ${event.action} for ${page.service} (INC-${page.incidentId}) interrupted by shutdown`);
    return { outcome, log };
  }

  private triggerEvent(page: Page, incident: Incident, key: RoutingKey): AlertEvent {
    const links: { href: string; text: string }[] = [];
    if (incident.channelId) links.push({ href: channelUrl(incident.channelId), text: `Slack: #${incident.channelName ?? incident.channelId}` });
    return {
      action: 'trigger',
      routingKey: key.key,
      dedupKey: page.dedupKey,
      trigger: {
        summary: pageSummary(incident),
        severity: PD_SEVERITY[incident.severity],
        source: this.ctx.config.paging.source,
        timestamp: incident.declaredAt.toISOString(),
        ...(incident.service ? { component: incident.service } : {}),
        group: page.service,
        class: 'incident',
        customDetails: {
          incident_id: incident.id,
          severity: incident.severity,
          title: incident.title,
          status: incident.status,
          ...(incident.summary ? { summary: incident.summary } : {}),
          ...(incident.service ? { service: incident.service } : {}),
          ...(incident.channelName ? { slack_channel: `#${incident.channelName}` } : {}),
          ...(incident.commander ? { commander: incident.commander } : {}),
          declared_by: incident.declaredBy,
          declared_at: incident.declaredAt.toISOString(),
          paged_because: page.reason,
          requested_by: page.requestedBy,
        },
        links,
      },
    };
  }

  // --- pages about Firebreak's own duties ----------------------------------------------------

  /**
   * Delivers a page OpsPager queued about Firebreak's own duties (a failed or stale backup, a
   * failed drill): one PagerDuty alert per `dedupKey`, so repeats fold into the open alert.
   */
  async runOpsJob(job: Job): Promise<void> {
    const p = job.payload as unknown as OpsPage & { at: string; service?: string };
    const key = this.keys.get(p.service ?? DEFAULT_SERVICE);
    if (!key) return;
    const event: AlertEvent = {
      action: 'trigger',
      routingKey: key.key,
      dedupKey: `firebreak-ops:${p.dedupKey}`.slice(0, 255),
      trigger: {
        summary: p.summary.slice(0, 1024), severity: p.severity, source: this.ctx.config.paging.source, timestamp: p.at,
        class: 'firebreak-ops', customDetails: p.details ?? {}, links: [],
      },
    };
    const outcome = await deliverWithRetries((signal) => this.provider.send(event, signal), policyFromConfig(this.ctx.config.paging.delivery), this.sleep, undefined, this.ctx.shutdownSignal);
    if (outcome.interrupted) throw new Error('ops page interrupted by shutdown');
    await appendEvent(this.ctx.pool, {
      type: outcome.ok ? 'paging.ops_paged' : 'paging.ops_page_failed', actor: 'firebreak', at: this.ctx.clock.now(), subject: `ops:${p.dedupKey}`,
      payload: { summary: p.summary, severity: p.severity, attempts: outcome.attempts, ...(outcome.ok ? {} : { error: outcome.lastError }) },
    });
    if (!outcome.ok) this.ctx.log.error({ dedupKey: p.dedupKey, error: outcome.lastError }, 'could not page about an operational failure');
  }

  // --- webhooks from PagerDuty --------------------------------------------------------------

  /**
   * Queues a verified webhook event. PagerDuty re-delivers on timeouts and errors; the job
   * queue's dedupe key turns a second delivery of the same webhook into a no-op.
   */
  async acceptWebhook(deliveryId: string, event: PdWebhookEvent): Promise<'queued' | 'duplicate'> {
    const dedupeKey = `paging:webhook:${deliveryId}`;
    await this.feedAlerts(dedupeKey, event);
    const id = await this.ctx.jobs.enqueue(WEBHOOK_QUEUE, { event: serializeEvent(event) }, { runAt: this.ctx.clock.now(), dedupeKey });
    return id === null ? 'duplicate' : 'queued';
  }

  /**
   * A PagerDuty incident Firebreak did not raise (other monitoring paged through PagerDuty)
   * is an alert like any other: stored through the alert pipeline before PagerDuty hears 2xx,
   * so routing, grouping and auto-declare apply. Storage trouble throws, the route answers
   * 5xx and PagerDuty retries; the delivery is only marked seen (the job) after the alert is
   * stored, and a delivery already seen is not stored again, so a late re-delivery of an old
   * trigger cannot undo a newer resolve.
   */
  private async feedAlerts(dedupeKey: string, event: PdWebhookEvent): Promise<void> {
    const alert = alertFromWebhookEvent(event, this.ctx.clock.now());
    if (!alert) return;
    const ours = await store.pageForWebhook(this.ctx.pool, {
      ...(event.incidentKey ? { dedupKey: event.incidentKey } : {}),
      ...(event.pdIncidentId ? { pdIncidentId: event.pdIncidentId } : {}),
    });
    if (ours) return; // Firebreak's own page: its incident timeline hears about it (the job).
    if (await store.jobExists(this.ctx.pool, dedupeKey)) return;
    await this.areas.alerts.ingest([alert]);
  }

  /** Acts on one PagerDuty event about an alert Firebreak raised; anything else is ignored. */
  async handleWebhookEvent(e: PdWebhookEvent): Promise<void> {
    const page = await store.pageForWebhook(this.ctx.pool, {
      ...(e.incidentKey ? { dedupKey: e.incidentKey } : {}),
      ...(e.pdIncidentId ? { pdIncidentId: e.pdIncidentId } : {}),
    });
    if (!page) {
      // Other monitoring's incident: its alert group's message shows what PagerDuty says.
      if (this.alertControls) await this.alertControls.onWebhook(e);
      return;
    }
    if (e.pdIncidentId) await store.rememberPdIncident(this.ctx.pool, page.id, e.pdIncidentId, e.pdIncidentUrl ?? null);
    // A change made from Slack comes back as a webhook: it is already on the timeline (and in MTTA).
    const echoOf = ECHO_OF[e.type];
    const pdIncidentId = e.pdIncidentId ?? page.pdIncidentId;
    if (echoOf && pdIncidentId && (await store.claimEcho(this.ctx.pool, pdIncidentId, echoOf, e.id, this.ctx.clock.now(), ECHO_WINDOW_MS))) {
      this.ctx.log.debug({ type: e.type, pdIncidentId }, 'PagerDuty webhook echoes a change made from Slack; already recorded');
      return;
    }
    const incident = await this.incidents.get(page.incidentId);
    if (!incident) return;
    const at = e.occurredAt ?? this.ctx.clock.now();
    const who = e.agentName ?? 'PagerDuty';
    const actor = `pagerduty:${who}`;
    const url = e.pdIncidentUrl ?? page.pdIncidentUrl;
    const common = { service: page.service, pdIncidentId: e.pdIncidentId ?? page.pdIncidentId, pdEventId: e.id, occurredAt: at.toISOString() };
    switch (e.type) {
      case 'incident.acknowledged': {
        const first = incident.acknowledgedAt === null;
        const after = await this.incidents.acknowledge(incident.id, actor, 'pagerduty', at);
        await store.acknowledgePage(this.ctx.pool, page.id, who, at);
        await this.refreshNotice(page.id);
        // MTTA is shown only when this acknowledgement is the incident's first response.
        const mtta = first && after?.acknowledgedAt ? after.acknowledgedAt.getTime() - after.declaredAt.getTime() : null;
        await this.tell(incident, tpl.acknowledgedMessage(who, mtta, url));
        return;
      }
      case 'incident.escalated':
      case 'incident.reassigned':
      case 'incident.delegated': {
        const to = e.assignees.join(', ') || undefined;
        const text = `PagerDuty ${e.type.slice('incident.'.length)} the page${to ? ` to ${to}` : ''}`;
        if (!(await this.incidents.recordPagerDutyEventOnce(incident.id, `pagerduty.${e.type.slice('incident.'.length)}`, actor, { ...common, assignees: e.assignees, text }))) return;
        await this.tell(incident, tpl.escalatedMessage(e.type, to));
        return;
      }
      case 'incident.annotated': {
        const note = e.note ?? '';
        if (!(await this.incidents.recordPagerDutyEventOnce(incident.id, 'pagerduty.annotated', actor, { ...common, note, text: `PagerDuty note by ${who}: ${note}` }))) return;
        await this.tell(incident, tpl.pdNoteMessage(who, note, url));
        return;
      }
      case 'incident.resolved': {
        await store.finishResolve(this.ctx.pool, page.id, true, this.ctx.clock.now());
        await this.refreshNotice(page.id);
        if (!(await this.incidents.recordPagerDutyEventOnce(incident.id, 'pagerduty.resolved', actor, { ...common, text: `PagerDuty alert for ${page.service} resolved in PagerDuty by ${who}` }))) return;
        // Our own resolve echoes back as a webhook: only a resolve made in PagerDuty is news.
        if (incident.status !== 'resolved') await this.tell(incident, tpl.pdResolvedMessage(who));
        return;
      }
      default:
        return;
    }
  }

  /** Posts in the incident channel, or the incidents channel when the war room has none (messages.ts). */
  tell(incident: Pick<Incident, 'id' | 'channelId'>, message: ChatMessage): Promise<PostedMessage | undefined> {
    return this.messages.tell(incident, message);
  }

  /**
   * Edits a page's "Paged …" message to show PagerDuty's state now (acknowledged by whom,
   * resolved), so its buttons match: no Acknowledge once acknowledged, none once resolved.
   */
  async refreshNotice(pageId: number): Promise<void> {
    const page = await store.pageById(this.ctx.pool, pageId);
    if (!page?.notice) return;
    const incident = await this.incidents.get(page.incidentId);
    if (!incident) return;
    const message = tpl.pagedNotice(page, incident.severity, page.notice.attempts, page.notice.retriedBy ?? undefined, !!this.ctx.config.paging.apiToken);
    await this.messages.edit(page.notice, message);
  }
}

/** Opens the channel in Slack from PagerDuty's mobile app or web UI. */
const channelUrl = (channelId: string): string => `https://slack.com/app_redirect?channel=${encodeURIComponent(channelId)}`;

type SerializedEvent = Omit<PdWebhookEvent, 'occurredAt'> & { occurredAt?: string };
function serializeEvent(e: PdWebhookEvent): SerializedEvent {
  const { occurredAt, ...rest } = e;
  return { ...rest, ...(occurredAt ? { occurredAt: occurredAt.toISOString() } : {}) };
}
function reviveEvent(s: SerializedEvent): PdWebhookEvent {
  const { occurredAt, ...rest } = s;
  return { ...rest, ...(occurredAt ? { occurredAt: new Date(occurredAt) } : {}) };
}

/** A problem the person who asked should read (unknown service, missing config). */
export class PagingUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PagingUserError';
  }
}
