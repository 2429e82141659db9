/**
 * Maintenance windows as use cases: request (production targets go through the change gate),
 * start (silences at every Alertmanager, audited, an end job), end early or at its time
 * (silences expired, audited), list. While a window is open, auto-declare and escalation skip
 * the alerts it covers and their messages carry a banner (read through `coveringWindow`).
 * Surface-neutral.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChangeGate, GateOutcome } from '../approvals/gate.js';
import type { Labels, Matcher } from '../alerts/matchers.js';
import { appendEvent } from '../events/log.js';
import { AlertmanagerError, type ApiMatcher, type SilenceApi } from '../silences/alertmanager-client.js';
import { apiMatcherText, silenceCovers, startNow, toApi } from '../silences/model.js';
import * as store from './store.js';
import type { MaintenanceWindow } from './store.js';

export const END_QUEUE = 'maintenance.end';
/** The change-gate kind for windows on production services (approvals.actions['maintenance.start']). */
export const MAINTENANCE_KIND = 'maintenance.start';

export interface MaintenanceParams extends Record<string, unknown> {
  requestKey: string;
  target: string;
  matchers: ApiMatcher[];
  durationMs: number;
  reason: string;
  requester: string;
  production: boolean;
}

export interface MaintenanceDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  alertmanagers: SilenceApi[];
  /** The change gate that production windows go through. */
  gate(): ChangeGate | undefined;
  mayControl(userId: string): Promise<boolean>;
  nameOf(userId: string): Promise<string>;
  enqueueEnd(windowId: number, at: Date): Promise<void>;
  /** Re-renders group messages whose firing alerts these matchers cover. */
  refresh(matchers: ApiMatcher[]): Promise<void>;
  /** Services whose windows need the change gate. */
  productionServices: string[];
  /** The alert label naming a service (alerts.incidentServiceLabel). */
  serviceLabel: string;
}

export type RequestOutcome =
  | { status: 'started'; window: MaintenanceWindow }
  | { status: 'gated'; gate: GateOutcome }
  | { status: 'refused'; message: string };

export type EndOutcome = { status: 'ended'; window: MaintenanceWindow } | { status: 'refused'; message: string };

const NOT_ALLOWED = 'You are not allowed to run maintenance windows here (alerts.silences.allowedUsers / allowedGroups).';

export class MaintenanceService {
  constructor(private d: MaintenanceDeps) {}

  /** Whether the matchers name a production service (an equality matcher on the service label). */
  isProduction(matchers: Matcher[]): boolean {
    return matchers.some((m) => m.name === this.d.serviceLabel && (m.op === '=' ? this.d.productionServices.includes(m.value) : m.op === '=~' && this.d.productionServices.some((s) => m.re!.test(s))));
  }

  async request(p: { requestKey: string; actor: string; channelId?: string; target: string; matchers: Matcher[]; durationMs: number; reason: string }): Promise<RequestOutcome> {
    if (!(await this.d.mayControl(p.actor))) return { status: 'refused', message: NOT_ALLOWED };
    const production = this.isProduction(p.matchers);
    const params: MaintenanceParams = { requestKey: p.requestKey, target: p.target, matchers: toApi(p.matchers), durationMs: p.durationMs, reason: p.reason, requester: p.actor, production };
    if (!production) {
      const started = await this.start(params, null);
      return 'refused' in started ? { status: 'refused', message: started.refused } : { status: 'started', window: started };
    }
    const gate = this.d.gate();
    if (!gate) return { status: 'refused', message: 'Maintenance on production services needs the change gate, and approvals are not running.' };
    const gated = await gate.request(MAINTENANCE_KIND, params, { userId: p.actor, ...(p.channelId ? { channelId: p.channelId } : {}) }, { category: 'standard', risk: 'low' });
    return { status: 'gated', gate: gated };
  }

  describe(p: MaintenanceParams): string {
    return `Maintenance window on ${p.target} for ${Math.round(p.durationMs / 60_000)} min: ${p.reason}`;
  }

  /**
   * Opens the window and silences its alerts at every Alertmanager. All or nothing: if an
   * Alertmanager cannot take the silence, the ones made are expired and the window is removed.
   */
  async start(p: MaintenanceParams, changeId: number | null): Promise<MaintenanceWindow | { refused: string }> {
    const now = this.d.clock.now();
    const { window: w, created } = await store.openWindow(this.d.pool, {
      requestKey: p.requestKey, target: p.target, matchers: p.matchers, reason: p.reason, production: p.production,
      startsAt: now, endsAt: new Date(now.getTime() + p.durationMs), createdBy: p.requester, changeId,
    });
    if (!created) return w;
    const createdBy = await this.d.nameOf(p.requester);
    const made: { api: SilenceApi; id: string }[] = [];
    try {
      for (const api of this.d.alertmanagers) {
        const id = await api.create({ matchers: w.matchers, startsAt: startNow(w.startsAt), endsAt: w.endsAt, createdBy, comment: `Maintenance #${w.id}: ${w.reason}` });
        made.push({ api, id });
        await store.addSilence(this.d.pool, w.id, { alertmanager: api.name, id });
      }
    } catch (e) {
      if (!(e instanceof AlertmanagerError)) throw e;
      for (const m of made) await m.api.expire(m.id).catch((err: unknown) => this.d.log.warn({ err, silence: m.id }, 'could not expire a silence of a failed maintenance start'));
      await store.deleteWindow(this.d.pool, w.id);
      return { refused: `${e.message}. The maintenance window was not started and nothing is silenced.` };
    }
    const started = (await store.getWindow(this.d.pool, w.id))!;
    await appendEvent(this.d.pool, {
      type: 'maintenance.started', actor: p.requester, at: now, subject: `maintenance:${w.id}`,
      payload: { target: w.target, matchers: w.matchers.map(apiMatcherText), reason: w.reason, endsAt: w.endsAt.toISOString(), production: w.production, changeId, silences: started.silences },
    });
    await this.d.enqueueEnd(w.id, w.endsAt);
    await this.d.refresh(w.matchers);
    return started;
  }

  /** Ends a window: early (by a person; its silences are expired) or at its end (the job). */
  async end(id: number, actor: string, early: boolean): Promise<EndOutcome> {
    if (early && !(await this.d.mayControl(actor))) return { status: 'refused', message: NOT_ALLOWED };
    const w = await store.getWindow(this.d.pool, id);
    if (!w) return { status: 'refused', message: `There is no maintenance window #${id}; \`/alerts maintenance\` lists the open ones.` };
    if (w.endedAt) return { status: 'refused', message: `Maintenance #${id} already ended at ${w.endedAt.toISOString()}.` };
    if (early) {
      // Expire at the source first: a window Firebreak calls ended must not keep alerts silenced.
      for (const s of w.silences) {
        const api = this.d.alertmanagers.find((a) => a.name === s.alertmanager);
        if (!api) continue;
        try {
          await api.expire(s.id);
        } catch (e) {
          if (!(e instanceof AlertmanagerError) || e.kind !== 'not_found') {
            return { status: 'refused', message: `${(e as Error).message}. Maintenance #${id} stays open; try again when Alertmanager is back.` };
          }
        }
      }
    }
    const now = this.d.clock.now();
    const closed = await store.closeWindow(this.d.pool, id, actor, early ? now : w.endsAt);
    if (!closed) return { status: 'refused', message: `Maintenance #${id} already ended.` };
    await appendEvent(this.d.pool, { type: 'maintenance.ended', actor, at: now, subject: `maintenance:${id}`, payload: { early, target: w.target, endsAt: w.endsAt.toISOString() } });
    await this.d.refresh(w.matchers);
    return { status: 'ended', window: closed };
  }

  async list(): Promise<MaintenanceWindow[]> {
    return store.openWindows(this.d.pool, this.d.clock.now());
  }
}

/** The open window covering any of these alerts, if one does. */
export async function coveringWindow(pool: pg.Pool, alerts: { labels: Labels }[], now: Date): Promise<MaintenanceWindow | undefined> {
  if (alerts.length === 0) return undefined;
  const open = await store.openWindows(pool, now);
  return open.find((w) => alerts.some((a) => silenceCovers(w, a.labels)));
}
