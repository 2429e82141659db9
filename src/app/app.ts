import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../clock.js';
import { createLogger, type Logger } from '../log.js';
import { createPool, whileServerReturns } from '../db/pool.js';
import { ensureMigrated } from '../db/migrate.js';
import { JobQueue } from '../jobs/queue.js';
import { Hooks } from '../events/hooks.js';
import { Background } from '../jobs/background.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import type { Route } from '../http/router.js';
import type { StoredEvent } from '../events/log.js';
import type { PostmortemActions } from '../incidents/postmortem-actions.js';
import type { ChatSurface } from '../chat/surface.js';
import type { ReplyFactory } from '../chat/interactions.js';
import { chatReplies } from '../chat/replies.js';
import type { AppContext, FirebreakModule } from './module.js';
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
import { Lifecycle } from '../ops/lifecycle.js';
import { opsModule } from './ops.js';
import { observeHttpRequest } from '../ops/metrics.js';
import { pitrArea } from './pitr.js';
import { statusPageModule, statusPageService } from './statuspage.js';
import type { StatusPageService } from '../statuspage/service.js';
import { FollowupService } from '../followups/service.js';
import { followupsModule } from './followups.js';
import { incidentStatsModule } from './incident-stats.js';
import { followupRemindersModule } from './followup-reminders.js';
import { configVersionsModule } from './configversions.js';

export interface AppOptions {
  config: Config;
  /** Close `pool` on stop even though the caller made it (main.ts shares it with the console). */
  ownsPool?: boolean;
  /** Defaults to a pool on config.databaseUrl. */
  pool?: pg.Pool;
  clock?: Clock;
  log?: Logger;
  /** The chat surface; built from config by src/main.ts (Slack or console). */
  chat: ChatSurface;
  /** How durable work answers people (Slack: response_url); defaults to ephemeral/DM through `chat`. */
  replies?: ReplyFactory;
  /** Extra routes from the edge that built the surface (/slack/events, /console). */
  edgeRoutes?: (app: FirebreakApp) => Route[];
  /** Run the job loop on a timer (production). Tests leave it off and call jobs.tick(). */
  runJobs?: boolean;
}

export interface FirebreakApp {
  ctx: AppContext;
  services: AppServices;
  modules: FirebreakModule[];
  interactions: Interactions;
  http: HttpServer;
  /** Listens on config.port (0 = any free port) and returns the port. */
  listen(port?: number, host?: string): Promise<number>;
  /** Draining state and the abort signal for long work (src/app/shutdown.ts drives it). */
  lifecycle: Lifecycle;
  /** Stops everything; background work gets `budgetMs` (default ops.shutdownBudgetSeconds). */
  stop(budgetMs?: number): Promise<void>;
}

/** Every area's service, built once by buildServices; the edge and tests reach them here. */
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

/** The composition root: wires config, database, chat surface and every area together. */
export async function createApp(opts: AppOptions): Promise<FirebreakApp> {
  const { config } = opts;
  const log = opts.log ?? createLogger({ level: config.logLevel });
  if (!opts.pool && !config.databaseUrl) throw new Error('createApp needs a pool or config.databaseUrl');
  const pool = opts.pool ?? createPool(config.databaseUrl!);
  const ownsPool = !opts.pool || opts.ownsPool === true;
  const clock = opts.clock ?? systemClock;
  const replicaId = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  // A replica starting while PostgreSQL restarts waits it out instead of exiting.
  await whileServerReturns(() => ensureMigrated(pool), 30_000, (err) => log.warn({ err }, 'PostgreSQL is not answering yet; retrying'));
  const jobs = new JobQueue(pool, clock, log, replicaId);
  const lifecycle = new Lifecycle();
  const sched = config.ops.scheduler;
  const ctx: AppContext = {
    config, pool, clock, log, chat: opts.chat, replies: opts.replies ?? chatReplies(opts.chat), replicaId,
    jobs,
    scheduler: new LeaseScheduler({ pool, clock, log, jobs, replicaId, leaseTtlSeconds: sched.leaseTtlSeconds, renewSeconds: sched.renewSeconds, catchUpSeconds: sched.catchUpSeconds }),
    shutdownSignal: lifecycle.signal,
    hooks: new Hooks(log),
    background: new Background(log),
    publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
  };
  const services = buildServices(ctx);
  const modules = buildModules(ctx, services);
  modules.push(opsModule(ctx, lifecycle, () => modules));
  for (const m of modules) for (const [q, h] of Object.entries(m.jobs ?? {})) ctx.jobs.handle(q, h);
  const interactions = new Interactions(modules, ctx);
  let edge: Route[] = [];
  const http = createHttpServer(() => [...edge, ...modules.flatMap((m) => m.routes ?? [])], log, observeHttpRequest);
  const app: FirebreakApp = {
    ctx, services, modules, interactions, http, lifecycle,
    listen: (port = config.port, host) => http.listen(port, host),
    stop: async (budgetMs = config.ops.shutdownBudgetSeconds * 1000) => {
      await ctx.scheduler.stop();
      await http.close();
      await ctx.jobs.stop();
      await ctx.background.drain(budgetMs);
      for (const m of [...modules].reverse()) await m.stop?.();
      if (ownsPool) await pool.end();
    },
  };
  edge = opts.edgeRoutes?.(app) ?? [];
  for (const m of modules) await m.start?.();
  if (opts.runJobs) {
    ctx.jobs.start();
    await ctx.scheduler.start();
  }
  return app;
}
