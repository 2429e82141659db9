import type { AppContext, FirebreakModule } from './module.js';
import { oncallSubcommand, pageSubcommand } from '../commands/paging.js';
import { retryPagingAction } from '../handlers/paging.js';
import { pagerDutyWebhookRoute } from '../webhooks/pagerduty.js';
import { RETRY_PAGING_ACTION } from '../templates/paging.js';
import { DELIVER_QUEUE, RESOLVE_QUEUE, WEBHOOK_QUEUE, type PagingService } from '../paging/service.js';
import { OPS_QUEUE } from '../paging/ops-pager.js';
import { pdControlDone } from '../templates/paging.js';
import { pdControlHandlers } from '../handlers/pagerduty-controls.js';
import type { IncidentService } from '../incidents/service.js';
import { PagerDutyRest } from '../paging/rest.js';
import { PagerDutyControls } from '../paging/controls.js';
import type { PagerDutyAlertControls } from '../paging/alert-controls.js';
import { timerSleep } from '../paging/delivery.js';

/**
 * PagerDuty paging: listens to incident hooks, adds `/incident page` and `/incident oncall`,
 * the Retry paging button and POST /webhooks/pagerduty. Without a routing key it stays
 * registered but pages nothing, and the incident headline says paging is off.
 */
export function pagingModule(ctx: AppContext, paging: PagingService, incidents: IncidentService, alertGroups: PagerDutyAlertControls): FirebreakModule {

  ctx.hooks.on('incident.declared', ({ incident, actor }) => paging.onDeclared(incident, actor));
  ctx.hooks.on('incident.severity_changed', ({ incident, from, to, actor }) => paging.onSeverityChanged(incident, from, to, actor));
  ctx.hooks.on('incident.resolved', ({ incident, actor }) => paging.onResolved(incident, actor));
  ctx.hooks.on('incident.reopened', ({ incident, actor }) => paging.onReopened(incident, actor));

  const controls = pdControlHandlers(new PagerDutyControls({
    pool: ctx.pool, clock: ctx.clock, log: ctx.log, incidents,
    rest: new PagerDutyRest(ctx.config.paging, () => ctx.clock.now(), timerSleep),
    emailOf: async (userId) => (await ctx.chat.userIdentity?.(userId))?.email,
    tell: async (incident, message) => void (await paging.tell(incident, message)),
    pageChanged: (pageId) => paging.refreshNotice(pageId),
    doneMessage: pdControlDone,
  }), incidents, alertGroups);

  return {
    name: 'paging',
    subcommands: { '/incident': [pageSubcommand(paging, incidents), oncallSubcommand(paging), controls.subcommand] },
    actions: { [RETRY_PAGING_ACTION]: retryPagingAction(paging), ...controls.actions },
    views: controls.views,
    routes: [pagerDutyWebhookRoute(paging, ctx.config.paging.webhookSecrets, ctx.log)],
    jobs: {
      [DELIVER_QUEUE]: (job) => paging.runDeliverJob(job),
      [RESOLVE_QUEUE]: (job) => paging.runResolveJob(job),
      [WEBHOOK_QUEUE]: (job) => paging.runWebhookJob(job),
      [OPS_QUEUE]: (job) => paging.runOpsJob(job),
    },
  };
}
