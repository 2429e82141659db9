import type { AppContext, FirebreakModule } from './module.js';
import type { ChangeGate } from '../approvals/gate.js';
import type { IncidentService } from '../incidents/service.js';
import type { HttpRequest, HttpResponse, Route } from '../http/router.js';
import { OFFER_QUEUE, PUBLISH_KIND, StatusPageService, SYNC_ATTEMPTS, SYNC_QUEUE } from '../statuspage/service.js';
import type { PublishParams } from '../statuspage/publish.js';
import { StatusPageMessages } from '../statuspage/messages.js';
import { StatuspageClient } from '../statuspage/atlassian.js';
import { atlassianSyncOn } from '../statuspage/config.js';
import { incidentJsonDoc, incidentPageHtml, publicHeaders, statusAtom, statusHtml, statusJson } from '../statuspage/page.js';
import { statusPageSubcommand } from '../commands/statuspage.js';
import { statusPageHandlers } from '../handlers/statuspage.js';

/** The area's service, built by the composition root after the gate and incidents. */
export function statusPageService(ctx: AppContext, incidents: IncidentService, gate: ChangeGate): StatusPageService {
  const cfg = ctx.config.statusPage;
  const a = cfg.atlassian;
  return new StatusPageService({
    pool: ctx.pool, clock: ctx.clock, log: ctx.log, config: cfg, gate, jobs: ctx.jobs, incidents,
    messages: new StatusPageMessages({ chat: ctx.chat, publicUrl: ctx.publicUrl }),
    ...(atlassianSyncOn(cfg) ? { api: new StatuspageClient({ apiUrl: a.apiUrl, pageId: a.pageId!, apiKey: a.apiKey! }) } : {}),
  });
}

/**
 * The public routes: GET /status (HTML), /status.json, /status/feed.atom and
 * /status/incidents/<id>[.json]. No authentication and nothing but approved rows; 404 while
 * the page is off.
 */
/** JSON with `<`, `>` and `&` as \u escapes: the same document, and never markup if something sniffs it anyway. */
const safeJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

function publicRoutes(ctx: AppContext, statusPage: StatusPageService): Route[] {
  const cfg = ctx.config.statusPage;
  const base = ctx.publicUrl;
  const headers = (type: string) => publicHeaders(type, cfg.maxAgeSeconds);
  const off = (): HttpResponse => ({ status: 404, headers: headers('application/json'), body: { error: 'not_found', detail: 'The status page is not enabled here.' } });
  const guard = (handle: (req: HttpRequest) => Promise<HttpResponse>) => async (req: HttpRequest): Promise<HttpResponse> => (cfg.enabled ? handle(req) : off());
  return [
    { method: 'GET', path: '/status', handle: guard(async () => ({ status: 200, headers: headers('text/html; charset=utf-8'), body: statusHtml(await statusPage.page(), base) })) },
    { method: 'GET', path: '/status.json', handle: guard(async () => ({ status: 200, headers: headers('application/json; charset=utf-8'), body: safeJson(statusJson(await statusPage.page(), base)) })) },
    { method: 'GET', path: '/status/feed.atom', handle: guard(async () => ({ status: 200, headers: headers('application/atom+xml; charset=utf-8'), body: statusAtom(await statusPage.page(), base) })) },
    {
      method: 'GET',
      path: '/status/incidents/*',
      handle: guard(async (req) => {
        const m = /^\/status\/incidents\/(\d{1,15})(\.json)?$/.exec(req.path);
        const notFound = (): HttpResponse => ({ status: 404, headers: headers('application/json'), body: { error: 'not_found', detail: 'No such public incident; GET /status lists them.' } });
        if (!m) return notFound();
        const i = await statusPage.publicIncident(Number(m[1]));
        if (!i) return notFound();
        const now = ctx.clock.now();
        if (m[2]) return { status: 200, headers: headers('application/json; charset=utf-8'), body: safeJson(incidentJsonDoc(i, base, now)) };
        return { status: 200, headers: headers('text/html; charset=utf-8'), body: incidentPageHtml(cfg.title, i, base, now) };
      }),
    },
  ];
}

/** The status page: public routes, `/incident status-page`, its form and buttons, the gated publish, sync and resolved offer. */
export function statusPageModule(ctx: AppContext, statusPage: StatusPageService, incidents: IncidentService, gate: ChangeGate): FirebreakModule {
  const components = ctx.config.statusPage.components.map((c) => ({ id: c.id, name: c.name, ...(c.group ? { group: c.group } : {}) }));
  gate.register<PublishParams>({
    kind: PUBLISH_KIND,
    describe: (p) => statusPage.describe(p),
    execute: (p, exec) => statusPage.execute(p, exec),
  });
  ctx.hooks.on('incident.resolved', ({ incident }) => statusPage.onResolved(incident));
  const handlers = statusPageHandlers({ statusPage, components, jobs: ctx.jobs, replies: ctx.replies, clock: ctx.clock });
  return {
    name: 'statuspage',
    subcommands: { '/incident': [statusPageSubcommand(incidents, statusPage, components)] },
    actions: handlers.actions,
    views: handlers.views,
    routes: publicRoutes(ctx, statusPage),
    jobs: {
      ...handlers.jobs,
      [OFFER_QUEUE]: async (job) => statusPage.offerResolvedNotice(Number((job.payload as { incidentId: number }).incidentId)),
      [SYNC_QUEUE]: async (job) => void (await statusPage.sync(Number((job.payload as { statusIncidentId: number }).statusIncidentId), job.attempts >= SYNC_ATTEMPTS)),
    },
  };
}
