import type { ChangeGate } from '../approvals/gate.js';
import type { AppContext, FirebreakModule } from './module.js';
import type { AlertService } from '../alerts/service.js';
import type { AlertSource } from '../alerts/model.js';
import type { Job } from '../jobs/queue.js';
import { parseDuration } from '../alerts/matchers.js';
import { AlertmanagerClient, whereOf } from '../silences/alertmanager-client.js';
import type { AlertmanagerTarget } from '../silences/config.js';
import { SilenceService, SilenceStatus } from '../silences/service.js';
import { silenceHandlers } from '../handlers/silences.js';
import { alertsCommand } from '../commands/alerts.js';
import { END_QUEUE, MAINTENANCE_KIND, MaintenanceService, type MaintenanceParams } from '../maintenance/service.js';
import { silenceCovers } from '../silences/model.js';
import type { ApiMatcher } from '../silences/alertmanager-client.js';
import type { ActionHandler } from '../chat/interactions.js';
import { END_MAINTENANCE_ACTIONS, maintenanceEndText } from '../templates/maintenance.js';
import { whileServerReturns } from '../db/pool.js';

/** Reads silences back from every Alertmanager, one slot per poll interval across replicas. */
export const SYNC_QUEUE = 'silences.sync';

const ownersOf = (targets: AlertmanagerTarget[]): Partial<Record<AlertSource, string>> =>
  Object.fromEntries(targets.flatMap((t) => t.sources.map((s) => [s, t.name])));

/** The alert message's view of silences; built before the alerts area, which renders with it. */
export const silenceStatus = (ctx: AppContext): SilenceStatus =>
  new SilenceStatus(ctx.pool, ownersOf(ctx.config.alerts.alertmanagers), Object.fromEntries(ctx.config.alerts.alertmanagers.map((t) => [t.name, whereOf(t.name, t.kind)])));

function authorization(t: AlertmanagerTarget, env: NodeJS.ProcessEnv): string | undefined {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new Error(`alerts.alertmanagers "${t.name}": environment variable ${name} is not set`);
    return v;
  };
  if (t.bearerTokenEnv) return `Bearer ${need(t.bearerTokenEnv)}`;
  if (t.basicUsername && t.basicPasswordEnv) return `Basic ${Buffer.from(`${t.basicUsername}:${need(t.basicPasswordEnv)}`).toString('base64')}`;
  return undefined;
}

/** Who may silence, unsilence and run maintenance: the configured users and groups, or everyone. */
export function controlPolicy(ctx: AppContext): (userId: string) => Promise<boolean> {
  const { allowedUsers, allowedGroups } = ctx.config.alerts.silences;
  return async (userId) => {
    if (allowedUsers.length === 0 && allowedGroups.length === 0) return true;
    if (allowedUsers.includes(userId)) return true;
    for (const g of allowedGroups) {
      try {
        if ((await ctx.chat.userGroupMembers(g)).includes(userId)) return true;
      } catch (err) {
        ctx.log.warn({ err, group: g }, 'could not read a user group allowed to silence');
      }
    }
    return false;
  };
}

/** Silences at the source: the Silence modal, Expire/Unmute buttons, `/alerts`, and the poller. */
export function silencesModule(ctx: AppContext, alerts: AlertService, changes: ChangeGate, env: NodeJS.ProcessEnv = process.env): FirebreakModule {
  const targets = ctx.config.alerts.alertmanagers;
  const cfg = ctx.config.alerts.silences;
  const owners = ownersOf(targets);
  const mayControl = controlPolicy(ctx);
  const alertmanagers = targets.map((t) => new AlertmanagerClient({ name: t.name, kind: t.kind, urls: t.urls, authorization: authorization(t, env), timeoutMs: t.timeoutSeconds * 1000 }));
  const nameOf = async (userId: string) => {
    try {
      return (await ctx.chat.userIdentity?.(userId))?.name ?? (await ctx.chat.displayName?.(userId)) ?? userId;
    } catch (err) {
      // The silence still says who: the Slack id is better than failing it.
      ctx.log.warn({ err, userId }, 'could not look up a user name for a silence');
      return userId;
    }
  };
  const silences = new SilenceService({ pool: ctx.pool, clock: ctx.clock, log: ctx.log, owners, alerts, mayControl, alertmanagers, nameOf });
  const refresh = async (matchers: ApiMatcher[]) => {
    const shown = await alerts.shownGroups();
    await alerts.refreshGroups(shown.filter((g) => g.firing.some((a) => silenceCovers({ matchers }, a.labels))).map((g) => g.groupId));
  };
  const maintenance = new MaintenanceService({
    pool: ctx.pool, clock: ctx.clock, log: ctx.log, alertmanagers, mayControl, nameOf, refresh,
    gate: () => changes,
    enqueueEnd: async (id, at) => void (await ctx.jobs.enqueue(END_QUEUE, { windowId: id }, { runAt: at, dedupeKey: `${END_QUEUE}:${id}`, maxAttempts: 10 })),
    productionServices: ctx.config.alerts.maintenance.productionServices,
    serviceLabel: ctx.config.alerts.incidentServiceLabel ?? 'service',
  });
  // Production windows run once approved (or at once when pre-approved), like every gated change.
  changes.register<MaintenanceParams>({
    kind: MAINTENANCE_KIND,
    describe: (p) => maintenance.describe(p),
    execute: async (p, exec) => {
      const w = await maintenance.start(p, exec.requestId);
      return 'refused' in w ? { ok: false, summary: w.refused } : { ok: true, summary: `maintenance #${w.id} open until ${w.endsAt.toISOString()}` };
    },
  });
  const endAction: ActionHandler = async (inv, reply) => {
    const id = /^\d{1,15}$/.test(inv.value) ? Number(inv.value) : 0;
    await reply.reply.ephemeral(maintenanceEndText(await maintenance.end(id, inv.actor.userId, true)));
  };
  const handlers = silenceHandlers({ alerts, silences, owners, config: cfg, jobs: ctx.jobs, replies: ctx.replies, now: () => ctx.clock.now(), mayControl });
  const pollMs = cfg.pollSeconds * 1000;
  const slotAt = (n: number) => new Date(n * pollMs);
  const scheduleSlot = async (n: number) => {
    await ctx.jobs.enqueue(SYNC_QUEUE, { slot: n }, { runAt: slotAt(n), dedupeKey: `${SYNC_QUEUE}:${n}`, maxAttempts: 1 });
  };
  return {
    name: 'silences',
    commands: [alertsCommand(silences, maintenance, {
      maxSilenceMs: parseDuration(cfg.maxDuration), maxMaintenanceMs: parseDuration(ctx.config.alerts.maintenance.maxDuration),
      serviceLabel: ctx.config.alerts.incidentServiceLabel ?? 'service', now: () => ctx.clock.now(),
    })],
    actions: { ...handlers.actions, ...Object.fromEntries(END_MAINTENANCE_ACTIONS.map((a) => [a, endAction])) },
    views: handlers.views,
    jobs: {
      ...handlers.jobs,
      // A window ends by itself: its silences end at the same time in Alertmanager.
      [END_QUEUE]: async (job: Job) => void (await maintenance.end(Number((job.payload as { windowId: number }).windowId), 'firebreak', false)),
      [SYNC_QUEUE]: async (job: Job) => {
        // The next slot first: a failing Alertmanager must not stop the polling.
        const n = Number((job.payload as { slot?: number }).slot);
        await scheduleSlot(Math.max(n, Math.floor(ctx.clock.now().getTime() / pollMs)) + 1);
        await silences.sync();
      },
    },
    start: async () => {
      // Idempotent (dedupe key): waits out a PostgreSQL restart at start instead of exiting.
      if (targets.length) await whileServerReturns(() => scheduleSlot(Math.floor(ctx.clock.now().getTime() / pollMs)), 30_000, (err) => ctx.log.warn({ err }, 'PostgreSQL is not answering yet; retrying the silence sync schedule'));
    },
  };
}
