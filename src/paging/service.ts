import type { AppContext } from '../module.js';
import type { ChatMessage } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import type { Severity } from '../incidents/config.js';
import { SEVERITIES } from '../incidents/config.js';
import * as tpl from '../templates/paging.js';
import { deliverWithRetries, policyFromConfig, timerSleep, type DeliveryOutcome, type Sleep } from './delivery.js';
import { dedupKeyFor, PD_SEVERITY, pageSummary, type Page } from './model.js';
import { PagerDutyProvider } from './pagerduty.js';
import type { AlertEvent, AttemptResult, OnCallEntry, PagingProvider } from './provider.js';
import { DEFAULT_SERVICE, resolveRoutingKeys, routingKeyEnvFor, type RoutingKey } from './routing.js';
import * as store from './store.js';
import type { PagedIncident } from './store.js';

type Env = Record<string, string | undefined>;

export interface PagingDeps {
  provider?: PagingProvider;
  sleep?: Sleep;
  env?: Env;
}

export type PageRequestOutcome =
  | { status: 'started'; page: Page }
  | { status: 'already'; page: Page }
  | { status: 'no_key'; service: string; envName: string }
  | { status: 'unknown_service'; service: string; known: string[] }
  | { status: 'no_incident'; incidentId: number }
  | { status: 'incident_resolved'; incidentId: number };

/** Where a retry came from, so a successful retry can replace its failure message. */
export interface FailureMessageRef {
  channel: string;
  ts: string;
}

interface AttemptLog {
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
}

/**
 * Paging use cases: page on declare and on severity raises, resolve on resolve, retry after
 * a failure, record everything as events, and tell the incident channel. Surface-neutral;
 * delivery runs in the background so nothing a person waits on blocks on PagerDuty.
 */
export class PagingService {
  readonly provider: PagingProvider;
  /** How the retry loop waits between attempts; tests replace it to skip real seconds. */
  sleep: Sleep;
  private readonly keys: Map<string, RoutingKey>;

  constructor(
    private ctx: AppContext,
    deps: PagingDeps = {},
  ) {
    this.provider = deps.provider ?? new PagerDutyProvider(ctx.config.paging, () => ctx.clock.now());
    this.sleep = deps.sleep ?? timerSleep;
    this.keys = resolveRoutingKeys(ctx.config.paging, deps.env ?? process.env);
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

  /** The "Paging: …" line of an incident's headline. */
  async headline(incidentId: number): Promise<string> {
    return tpl.pagingHeadline(this.enabled(), await store.pagesForIncident(this.ctx.pool, incidentId));
  }

  pages(incidentId: number): Promise<Page[]> {
    return store.pagesForIncident(this.ctx.pool, incidentId);
  }

  /** The service an incident pages: its own when that has a key, else the default. */
  serviceFor(incident: Pick<PagedIncident, 'service'>): string | undefined {
    const own = incident.service?.toLowerCase();
    if (own && this.keys.has(own)) return own;
    return this.keys.has(DEFAULT_SERVICE) ? DEFAULT_SERVICE : undefined;
  }

  severityPages(sev: Severity): boolean {
    return this.ctx.config.incidents.severities[sev].page;
  }

  // --- reactions to incident hooks ---------------------------------------------------------

  async onDeclared(incidentId: number, severity: Severity, service: string | null, actor: string): Promise<void> {
    if (!this.severityPages(severity)) return;
    const target = this.serviceFor({ service });
    if (!target) return;
    await this.requestPage(incidentId, target, actor, `declared ${severity}`);
  }

  async onSeverityChanged(incidentId: number, from: Severity, to: Severity, service: string | null, actor: string): Promise<void> {
    if (!this.severityPages(to) || SEVERITIES.indexOf(to) >= SEVERITIES.indexOf(from) && this.severityPages(from)) {
      // Lowering severity, or moving between paging severities, never pages again by itself.
      if (!this.severityPages(to)) return;
    }
    const target = this.serviceFor({ service });
    if (!target) return;
    const existing = await store.pageFor(this.ctx.pool, incidentId, target);
    if (existing && existing.status !== 'failed') return;
    await this.requestPage(incidentId, target, actor, `severity raised ${from} → ${to}`);
  }

  async onResolved(incidentId: number, actor: string): Promise<void> {
    this.ctx.background.run(`resolve pages of INC-${incidentId}`, () => this.resolvePages(incidentId, actor));
  }

  // --- use cases ----------------------------------------------------------------------------

  /**
   * Claims the page and starts delivering it in the background. Returns at once: what the
   * caller learns is whether a delivery started, not whether PagerDuty took it.
   */
  async requestPage(incidentId: number, service: string, actor: string, reason: string, retryOf?: FailureMessageRef): Promise<PageRequestOutcome> {
    const name = service.toLowerCase();
    const key = this.keys.get(name);
    if (!key) {
      if (!this.knownServices().includes(name)) return { status: 'unknown_service', service: name, known: this.pageableServices() };
      return { status: 'no_key', service: name, envName: routingKeyEnvFor(name, this.ctx.config.paging) };
    }
    const incident = await store.incidentForPaging(this.ctx.pool, incidentId);
    if (!incident) return { status: 'no_incident', incidentId };
    if (incident.status === 'resolved') return { status: 'incident_resolved', incidentId };
    const claim = await store.claimPage(this.ctx.pool, {
      incidentId, service: name, routingKeyEnv: key.envName, requestedBy: actor, reason, at: this.ctx.clock.now(),
      dedupKey: dedupKeyFor(this.ctx.config.paging.dedupKeyPrefix, incidentId, name),
    });
    if (!claim.claimed) return { status: 'already', page: claim.page };
    this.ctx.background.run(`page ${name} for INC-${incidentId}`, async () => {
      await this.deliverTrigger(claim.page, key, actor, retryOf);
    });
    return { status: 'started', page: claim.page };
  }

  /** The Retry paging button. */
  async retry(incidentId: number, service: string, actor: string, message?: FailureMessageRef): Promise<PageRequestOutcome> {
    return this.requestPage(incidentId, service, actor, 'retry', message);
  }

  /** Everyone on call now, for `default` or a named service's escalation policy. */
  async onCall(service?: string): Promise<{ scope: string; entries: OnCallEntry[] }> {
    const cfg = this.ctx.config.paging;
    const name = service?.toLowerCase();
    let policy: string | undefined;
    if (name && name !== DEFAULT_SERVICE) {
      const svc = cfg.services[name];
      if (!svc) throw new PagingUserError(`I don't know the service \`${name}\`. Known services: ${this.knownServices().join(', ')}.`);
      if (!svc.escalationPolicyId) throw new PagingUserError(`\`${name}\` has no \`escalationPolicyId\` in \`paging.services.${name}\`, so I can't tell who is on call for it.`);
      policy = svc.escalationPolicyId;
    } else policy = cfg.defaultEscalationPolicyId;
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

  // --- delivery -----------------------------------------------------------------------------

  private async deliverTrigger(page: Page, key: RoutingKey, actor: string, retryOf?: FailureMessageRef): Promise<DeliveryOutcome> {
    const incident = (await store.incidentForPaging(this.ctx.pool, page.incidentId))!;
    const event = this.triggerEvent(page, incident, key);
    const { outcome, log } = await this.send(page, event);
    const at = this.ctx.clock.now();
    const base = { service: page.service, dedupKey: page.dedupKey, routingKeyEnv: page.routingKeyEnv, attempts: outcome.attempts, attemptLog: log, reason: page.reason };
    if (outcome.ok) {
      const done = await store.setPageStatus(this.ctx.pool, page.id, 'triggered', at);
      await appendEvent(this.ctx.pool, {
        type: 'incident.paged', actor, at, incidentId: page.incidentId,
        payload: { ...base, severity: incident.severity, pdSeverity: PD_SEVERITY[incident.severity], summary: `Paged ${page.service} on PagerDuty` },
      });
      if (retryOf) await this.safely(() => this.ctx.chat.update(retryOf.channel, retryOf.ts, tpl.pageRecoveredMessage(done, actor)));
      await this.tell(incident, tpl.pagedNotice(done, incident.severity, outcome.attempts));
      // Resolved while the trigger was in flight: the resolve found nothing to resolve, so do it now.
      const now = await store.incidentForPaging(this.ctx.pool, page.incidentId);
      if (now?.status === 'resolved') await this.resolvePages(page.incidentId, 'firebreak');
    } else {
      const failed = await store.setPageStatus(this.ctx.pool, page.id, 'failed', at);
      await appendEvent(this.ctx.pool, {
        type: 'incident.page_failed', actor, at, incidentId: page.incidentId,
        payload: { ...base, error: outcome.lastError, summary: `Paging ${page.service} failed: ${outcome.lastError}` },
      });
      await this.tell(incident, tpl.pageFailedMessage(failed, outcome.attempts, outcome.lastError ?? 'unknown error'));
    }
    return outcome;
  }

  /** Resolves every alert this incident triggered (and retries resolves that failed before). */
  async resolvePages(incidentId: number, actor: string): Promise<void> {
    const pages = await store.claimForResolve(this.ctx.pool, incidentId, this.ctx.clock.now());
    if (pages.length === 0) return;
    const incident = (await store.incidentForPaging(this.ctx.pool, incidentId))!;
    for (const page of pages) {
      const key = this.keys.get(page.service);
      const at = () => this.ctx.clock.now();
      if (!key) {
        // The key was removed since the page: we cannot address that alert any more.
        await store.setPageStatus(this.ctx.pool, page.id, 'resolve_failed', at());
        const error = `no routing key for ${page.service} any more (${page.routingKeyEnv} is unset)`;
        await appendEvent(this.ctx.pool, { type: 'incident.page_resolve_failed', actor, at: at(), incidentId, payload: { service: page.service, dedupKey: page.dedupKey, error, summary: `Resolving the ${page.service} alert failed: ${error}` } });
        await this.tell(incident, tpl.resolveFailedMessage(page, error));
        continue;
      }
      const { outcome, log } = await this.send(page, { action: 'resolve', routingKey: key.key, dedupKey: page.dedupKey });
      const payload = { service: page.service, dedupKey: page.dedupKey, attempts: outcome.attempts, attemptLog: log };
      if (outcome.ok) {
        await store.setPageStatus(this.ctx.pool, page.id, 'resolved', at());
        await appendEvent(this.ctx.pool, { type: 'incident.page_resolved', actor, at: at(), incidentId, payload: { ...payload, summary: `Resolved the ${page.service} alert in PagerDuty` } });
      } else {
        await store.setPageStatus(this.ctx.pool, page.id, 'resolve_failed', at());
        await appendEvent(this.ctx.pool, { type: 'incident.page_resolve_failed', actor, at: at(), incidentId, payload: { ...payload, error: outcome.lastError, summary: `Resolving the ${page.service} alert failed: ${outcome.lastError}` } });
        await this.tell(incident, tpl.resolveFailedMessage(page, outcome.lastError ?? 'unknown error'));
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
    );
    return { outcome, log };
  }

  private triggerEvent(page: Page, incident: PagedIncident, key: RoutingKey): AlertEvent {
    const links: { href: string; text: string }[] = [];
    if (incident.channelId) links.push({ href: this.channelUrl(incident.channelId), text: `Slack: #${incident.channelName ?? incident.channelId}` });
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
          ...(incident.summary ? { summary: incident.summary } : {}),
          ...(incident.service ? { service: incident.service } : {}),
          ...(incident.channelName ? { slack_channel: `#${incident.channelName}` } : {}),
          declared_at: incident.declaredAt.toISOString(),
          paged_because: page.reason,
          requested_by: page.requestedBy,
        },
        links,
      },
    };
  }

  /** Opens the channel in Slack from PagerDuty's mobile app or web UI. */
  private channelUrl(channelId: string): string {
    return `https://slack.com/app_redirect?channel=${encodeURIComponent(channelId)}`;
  }

  /** Posts in the incident channel, or the incidents channel when the war room has none. */
  async tell(incident: Pick<PagedIncident, 'id' | 'channelId'>, message: ChatMessage): Promise<void> {
    await this.safely(async () => {
      let channel = incident.channelId;
      if (!channel) channel = (await this.ctx.chat.findChannel(this.ctx.config.incidents.channel))?.id ?? null;
      if (!channel) return;
      await this.ctx.chat.post(channel, message);
    });
  }

  private async safely(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.ctx.log.warn({ err }, 'paging: chat message failed');
    }
  }
}

/** A problem the person who asked should read (unknown service, missing config). */
export class PagingUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PagingUserError';
  }
}
