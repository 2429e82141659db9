import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { HandlerTable } from '../jobs/queue.js';
import { Hooks } from '../events/hooks.js';
import { Background } from '../jobs/background.js';
import type { Route } from '../http/router.js';
import type { StoredEvent } from '../events/log.js';
import type { PostmortemActions } from '../incidents/postmortem-actions.js';
import type { AppContext, FirebreakModule } from './module.js';
import type { ConfigVersionRef } from '../config/version-ref.js';
import { ChangeService } from '../approvals/service.js';
import { IncidentService } from '../incidents/service.js';
import { AlertService } from '../alerts/service.js';
import { PagingService } from '../paging/service.js';
import { PagerDutyAlertControls, PagerDutyAlertStatus } from '../paging/alert-controls.js';
import { PagerDutyRest } from '../paging/rest.js';
import { timerSleep } from '../paging/delivery.js';
import { resolveRoutingKeys } from '../paging/routing.js';
import { OpsPager } from '../paging/ops-pager.js';
import { BackupService } from '../backups/service.js';
import { DrService } from '../dr/service.js';
import { backupsRestoreSource } from '../dr/backups-binding.js';
import { Interactions } from '../chat/router.js';
import { alertsModule } from './alerts.js';
import { incidentsModule } from './incidents.js';
import { silenceStatus, silencesModule } from './silences.js';
import { drModule } from './dr.js';
import { approvalsModule } from './approvals.js';
import { pagingModule } from './paging.js';
import { backupsModule } from './backups.js';
import { LeaseScheduler } from '../jobs/scheduler.js';
import type { Lifecycle } from '../ops/lifecycle.js';
import { opsModule } from './ops.js';
import { pitrArea } from './pitr.js';
import { statusPageModule, statusPageService } from './statuspage.js';
import type { StatusPageService } from '../statuspage/service.js';
import { FollowupService } from '../followups/service.js';
import { followupsModule } from './followups.js';
import { incidentStatsModule } from './incident-stats.js';
import { followupRemindersModule } from './followup-reminders.js';
import { configVersionsModule } from './configversions.js';

/** Every area's service, built once per generation by buildServices; the edge and tests reach them through app.services. */
export interface AppServices {
  readonly changes: ChangeService;
  readonly incidents: IncidentService;
  readonly alerts: AlertService;
  readonly opsPager: OpsPager;
  readonly paging: PagingService;
  /** PagerDuty controls on alert groups that came from PagerDuty. */
  readonly pdAlerts: PagerDutyAlertControls;
  readonly backups: BackupService;
  readonly dr: DrService;
  /** The public status page, fed through the change gate. */
  readonly statusPage: StatusPageService;
  readonly followups: FollowupService;
}

/**
 * What lives for the whole process and every generation is built on: the pool, the job queue,
 * the chat surface, the lifecycle (src/app/app.ts owns them).
 */
export interface Platform extends Pick<AppContext, 'pool' | 'clock' | 'log' | 'chat' | 'replies' | 'jobs' | 'replicaId'> {
  lifecycle: Lifecycle;
  /** The version the replica runs now, for /health/ready. */
  configVersion: () => ConfigVersionRef | undefined;
}

/**
 * One configuration's worth of Firebreak: the context with that config, every service,
 * module, command table, hook listener, scheduled task and job handler built from it. A reload
 * builds a new one beside the running one and swaps (src/app/app.ts); requests already running
 * keep the references they started with and finish on the old one.
 */
export interface Generation {
  readonly config: Config;
  readonly ctx: AppContext;
  readonly services: AppServices;
  readonly modules: FirebreakModule[];
  readonly interactions: Interactions;
  /** Its own scheduler: started when the generation takes over, stopped when it is replaced. */
  readonly scheduler: LeaseScheduler;
  /** The job handlers it registered (complete once started), installed on the shared queue when it takes over. */
  readonly handlers: HandlerTable;
  /**
   * Starts its modules (they may add scheduled tasks). If one throws, those already started are
   * stopped again and the error is rethrown. Its scheduler is started by the app at the swap.
   */
  start(): Promise<void>;
  /** Its modules' HTTP routes, in module order. */
  routes(): Route[];
  /**
   * After it was replaced (or at shutdown): waits up to `budgetMs` for its background work,
   * then stops its modules in reverse order. Failures are logged, never thrown.
   */
  retire(budgetMs: number): Promise<void>;
}

/**
 * The areas' services in dependency order: each is handed what it needs from the ones built
 * before it, as a narrow interface, so nothing looks another area up at run time.
 */
function buildServices(ctx: AppContext): AppServices {
  // Read once: paging uses the keys, incidents only whether there are any (the headline says so).
  const routingKeys = resolveRoutingKeys(ctx.config.paging, process.env);
  const opsPager = new OpsPager({ jobs: ctx.jobs, clock: ctx.clock, routingKeys });
  // The post-mortem lists follow-ups live, and follow-ups read incidents: each gets the other
  // as a narrow interface, the post-mortem side resolved when it is first used.
  const postmortemActions: PostmortemActions = { forPostmortem: (id: number, events: StoredEvent[]) => followups.forPostmortem(id, events) };
  const incidents: IncidentService = new IncidentService(ctx, { enabled: routingKeys.size > 0 }, postmortemActions);
  const followups: FollowupService = new FollowupService(ctx, { get: (id) => incidents.get(id) });
  const changes = new ChangeService(ctx, incidents);
  const silences = silenceStatus(ctx);
  const pdStatus = new PagerDutyAlertStatus(ctx.pool, () => !!ctx.config.paging.apiToken);
  // A group's message shows silences and maintenance (src/silences) and PagerDuty's state (src/paging).
  const alerts = new AlertService(ctx, incidents, opsPager, {
    status: async (g, firing, now) => ({ ...(await silences.status(g, firing, now)), pagerduty: await pdStatus.status(firing) }),
  });
  const pdAlerts = new PagerDutyAlertControls({
    pool: ctx.pool, clock: ctx.clock, log: ctx.log, alerts,
    rest: new PagerDutyRest(ctx.config.paging, () => ctx.clock.now(), timerSleep),
    emailOf: async (userId) => (await ctx.chat.userIdentity?.(userId))?.email,
  });
  const paging = new PagingService(ctx, { incidents, alerts }, { routingKeys, alertControls: pdAlerts });
  const backups = new BackupService({ ...ctx, paging: opsPager });
  const dr = new DrService(ctx, backupsRestoreSource(ctx), changes);
  const statusPage = statusPageService(ctx, incidents, changes);
  return { changes, incidents, alerts, opsPager, paging, pdAlerts, backups, dr, statusPage, followups };
}

/** The modules that make up Firebreak, in the order their routes and commands register. */
function buildModules(ctx: AppContext, s: AppServices): FirebreakModule[] {
  // PITR hands its `--physical` / `--to` verbs to /backup and /dr (src/app/pitr.ts).
  const pitr = pitrArea(ctx, { gate: s.changes, paging: s.opsPager });
  return [
    incidentsModule(ctx, s.incidents),
    pagingModule(ctx, s.paging, s.incidents, s.pdAlerts),
    approvalsModule(ctx, s.changes),
    backupsModule(ctx, s.backups, s.changes, pitr.verbs),
    drModule(ctx, s.dr, s.changes, pitr.verbs),
    alertsModule(ctx, s.alerts),
    silencesModule(ctx, s.alerts, s.changes),
    pitr.module,
    statusPageModule(ctx, s.statusPage, s.incidents, s.changes),
    followupsModule(ctx, s.followups, s.incidents),
    incidentStatsModule(ctx),
    followupRemindersModule(ctx),
    configVersionsModule(ctx, s.changes),
  ];
}

/**
 * Builds a generation for `config` on the platform, not started. From here until its start()
 * settles, job handlers registered on the shared queue are captured for it, not installed (the
 * running generation keeps serving its queues until the swap). If the build throws, nothing of
 * it stays behind.
 */
export function buildGeneration(config: Config, p: Platform): Generation {
  const sched = config.ops.scheduler;
  p.jobs.beginCapture();
  let scheduler: LeaseScheduler | undefined;
  try {
    scheduler = new LeaseScheduler({
      pool: p.pool, clock: p.clock, log: p.log, jobs: p.jobs, replicaId: p.replicaId,
      leaseTtlSeconds: sched.leaseTtlSeconds, renewSeconds: sched.renewSeconds, catchUpSeconds: sched.catchUpSeconds,
    });
    const ctx: AppContext = {
      config, pool: p.pool, clock: p.clock, log: p.log, chat: p.chat, replies: p.replies, replicaId: p.replicaId,
      jobs: p.jobs,
      scheduler,
      shutdownSignal: p.lifecycle.signal,
      hooks: new Hooks(p.log),
      background: new Background(p.log),
      publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
    };
    const services = buildServices(ctx);
    const modules = buildModules(ctx, services);
    modules.push(opsModule(ctx, p.lifecycle, () => modules, p.configVersion));
    for (const m of modules) for (const [q, h] of Object.entries(m.jobs ?? {})) ctx.jobs.handle(q, h);
    const interactions = new Interactions(modules, ctx);
    // Requests that matched one of its routes are counted, so retiring waits for them (a slow
    // request that started before a switch finishes on this generation, its modules still up).
    const inflight = new Set<Promise<unknown>>();
    const moduleRoutes: Route[] = modules.flatMap((m) => m.routes ?? []).map((r) => ({
      ...r,
      handle: (req) => {
        const pending = r.handle(req);
        inflight.add(pending);
        // One reaction, not catch + finally: this wraps every request (alert webhooks included).
        const done = () => void inflight.delete(pending);
        pending.then(done, done);
        return pending;
      },
    }));
    const sch = scheduler;
    let handlers: HandlerTable = new Map();
    return {
      config, ctx, services, modules, interactions, scheduler: sch,
      get handlers() {
        return handlers;
      },
      routes: () => moduleRoutes,
      start: async () => {
        const started: FirebreakModule[] = [];
        try {
          for (const m of modules) {
            await m.start?.();
            started.push(m);
          }
        } catch (err) {
          p.jobs.endCapture();
          await ctx.background.drain(5000);
          await stopModules(started, p.log);
          await sch.stop().catch(() => {});
          throw err;
        }
        handlers = p.jobs.endCapture();
      },
      retire: async (budgetMs) => {
        const deadline = Date.now() + budgetMs;
        while (inflight.size > 0 && Date.now() < deadline) {
          await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
        }
        if (!(await ctx.background.drain(Math.max(0, deadline - Date.now())))) p.log.warn({ action: 'config.retire', background: ctx.background.size }, 'a retiring configuration generation still had background work when its budget ran out');
        await stopModules(modules, p.log);
      },
    };
  } catch (err) {
    p.jobs.endCapture();
    void scheduler?.stop().catch(() => {});
    throw err;
  }
}

async function stopModules(modules: FirebreakModule[], log: Logger): Promise<void> {
  for (const m of [...modules].reverse()) {
    await m.stop?.().catch((err: unknown) => log.error({ err, module: m.name }, 'module did not stop cleanly'));
  }
}
