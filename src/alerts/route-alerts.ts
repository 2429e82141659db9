import type { AppContext } from '../context.js';
import type { IncidentService } from '../incidents/service.js';
import type { Incident } from '../incidents/model.js';
import type { Config } from '../config/schema.js';
import { withTransaction } from '../db/pool.js';
import { alertsRouted } from '../ops/metrics.js';
import type { Labels } from './matchers.js';
import { alertTitle } from './model.js';
import { findRouteByKey, groupKey, groupLabels, matchRoutes, type Route } from './routing.js';
import * as store from './store.js';

const ROUTE_BATCH = 1000;

/** What routing needs: the app's parts, the compiled route tree, and the open incidents. */
export interface RouteAlertsDeps {
  ctx: AppContext;
  root: Route;
  incidents: Pick<IncidentService, 'open' | 'recordTimeline'>;
}

interface Reported {
  alertId: number;
  incidentId: number;
  status: 'firing' | 'resolved';
}

/** An alert newly reported to an incident, with what its timeline line says. */
export interface ReportedAlert { r: Reported; source: string; title: string; labels: Labels; groupId: number }

/**
 * Route alerts: take every stored alert whose latest change has not been routed yet (a batch
 * at a time, claimed in a transaction), put it in the groups of every route it matches,
 * attach groups to the open incident their labels name, queue each group's message in the
 * outbox (paced by group_wait / group_interval), then note the alerts on incident timelines.
 */
export async function routePendingAlerts(d: RouteAlertsDeps): Promise<number> {
  let total = 0;
  const open = await openIncidents(d.incidents);
  for (;;) {
    const reported: { r: Reported; source: string; title: string; labels: Labels; groupId: number }[] = [];
    const n = await withTransaction(d.ctx.pool, async (c) => {
      const pending = await store.claimUnprocessed(c, ROUTE_BATCH);
      if (pending.length === 0) return 0;
      const now = d.ctx.clock.now();
      const seeds = new Map<string, store.GroupSeed>();
      const members: { key: string; alert: store.PendingAlert }[] = [];
      for (const a of pending) {
        for (const route of matchRoutes(d.root, a.labels)) {
          const key = groupKey(route, a.labels);
          const seed = seeds.get(key);
          if (!seed) seeds.set(key, { groupKey: key, routeKey: route.key, channel: route.opts.channel, groupLabels: groupLabels(route, a.labels), createdAt: a.last_received_at });
          else if (a.last_received_at < seed.createdAt) seed.createdAt = a.last_received_at;
          members.push({ key, alert: a });
        }
      }
      const groups = await store.upsertGroups(c, [...seeds.values()]);
      const firingKeys = new Set(members.filter((m) => m.alert.status === 'firing').map((m) => m.key));
      const perGroup = new Map<string, number>();
      for (const m of members) perGroup.set(m.key, (perGroup.get(m.key) ?? 0) + 1);
      const restart = [...groups.values()].filter((g) => g.allResolvedNoticed && firingKeys.has(g.groupKey));
      const starts = restart.map((g) => ({ id: g.id, at: seeds.get(g.groupKey)!.createdAt }));
      await store.startNewEpisodes(c, starts);
      for (const g of restart) Object.assign(g, { createdAt: seeds.get(g.groupKey)!.createdAt, lastNotifiedAt: null, notifiedVersion: 0, allResolvedNoticed: false, acknowledgedBy: null, acknowledgedAt: null });
      await store.addMembers(c, members.map((m) => ({ groupId: groups.get(m.key)!.id, alertId: m.alert.id })));

      // One entry per (alert, incident): with `continue` an alert can reach an incident through two groups.
      const toReport = new Map<string, Reported & { source: string; title: string; labels: Labels; groupId: number }>();
      for (const m of members) {
        const g = groups.get(m.key)!;
        let incident = g.incidentId ? open.get(g.incidentId) : undefined;
        if (!incident) {
          incident = incidentByLabels(d.ctx.config.alerts, m.alert.labels, open);
          if (incident && !g.incidentId) {
            await store.attachIncident(c, g.id, incident.id);
            g.incidentId = incident.id;
          }
        }
        if (incident && !toReport.has(`${m.alert.id}:${incident.id}`)) {
          toReport.set(`${m.alert.id}:${incident.id}`, {
            alertId: m.alert.id, incidentId: incident.id, status: m.alert.status, source: m.alert.source,
            title: alertTitle(m.alert), labels: m.alert.labels, groupId: g.id,
          });
        }
      }
      const fresh = await store.reportAlertsToIncidents(c, [...toReport.values()], now);
      for (const f of fresh) {
        const t = toReport.get(`${f.alertId}:${f.incidentId}`)!;
        reported.push({ r: f, source: t.source, title: t.title, labels: t.labels, groupId: t.groupId });
      }

      const outbox: store.OutboxItem[] = [];
      for (const g of groups.values()) {
        const route = findRouteByKey(d.root, g.routeKey) ?? d.root;
        const notBefore = g.lastNotifiedAt
          ? new Date(g.lastNotifiedAt.getTime() + route.opts.groupIntervalMs)
          : new Date(g.createdAt.getTime() + route.opts.groupWaitMs);
        outbox.push({ groupId: g.id, channel: g.channel, kind: 'message', notBefore });
        const inc = g.incidentId ? open.get(g.incidentId) : undefined;
        // Responders in an incident channel see its alerts change at once (still paced).
        if (inc?.channelId && inc.channelId !== g.channel) outbox.push({ groupId: g.id, channel: inc.channelId, kind: 'message', notBefore: now });
        alertsRouted.inc({ route: route.key, action: 'grouped' }, perGroup.get(g.groupKey) ?? 0);
      }
      await store.queueOutbox(c, outbox, now);
      return pending.length;
    });
    await tellTimelines(d.incidents, reported);
    total += n;
    if (n === 0) break;
  }
  return total;
}

async function openIncidents(incidents: Pick<IncidentService, 'open'>): Promise<Map<number, Incident>> {
  const list = await incidents.open();
  return new Map(list.map((i) => [i.id, i]));
}

/** The label rule: `firebreak_incident="42"` (or INC-42), or the service label equal to an open incident's service. */
function incidentByLabels(c: Config['alerts'], labels: Labels, open: Map<number, Incident>): Incident | undefined {
  const named = labels[c.incidentLabel];
  if (named) {
    const m = /^(?:inc-?)?(\d+)$/i.exec(named.trim());
    const hit = m ? open.get(Number(m[1])) : undefined;
    if (hit) return hit;
  }
  const service = c.incidentServiceLabel ? labels[c.incidentServiceLabel] : undefined;
  if (service) {
    const matches = [...open.values()].filter((i) => i.service && i.service.toLowerCase() === service.toLowerCase());
    return matches.sort((a, b) => b.id - a.id)[0];
  }
  return undefined;
}

/** Each alert newly reported to an incident becomes a line on its timeline. */
export async function tellTimelines(incidents: Pick<IncidentService, 'recordTimeline'>, items: ReportedAlert[]): Promise<void> {
  for (const it of items) {
    const verb = it.r.status === 'firing' ? 'firing' : 'resolved';
    await incidents.recordTimeline(it.r.incidentId, `alert.${verb}`, `alert:${it.source}`, {
      text: `Alert ${verb}: ${it.title}`, alertId: it.r.alertId, groupId: it.groupId, labels: it.labels,
    });
    alertsRouted.inc({ route: 'incident', action: 'incident' });
  }
}
