import type { AppContext, FirebreakModule } from './module.js';
import { ESCALATE_QUEUE, FLUSH_QUEUE, type AlertService } from '../alerts/service.js';
import { webhookRoutes } from '../webhooks/routes.js';
import { alertActionHandlers } from '../handlers/alerts.js';

/** Alert intake (webhooks), routing into groups, and the group messages in chat. */
export function alertsModule(ctx: AppContext, service: AlertService): FirebreakModule {
  ctx.hooks.on('incident.war_room_ready', ({ incident }) => service.incidentRoomReady(incident));
  // Safety net: alerts stored while routing failed (database blip) and outbox rows whose
  // wake-up job was lost are picked up within a minute.
  ctx.scheduler.add({ name: 'alerts:catch-up', cron: '* * * * *', run: () => service.pump() });
  ctx.scheduler.add({ name: 'alerts:retention', cron: '17 3 * * *', run: async () => void (await service.prune()) });
  return {
    name: 'alerts',
    routes: webhookRoutes(ctx, service),
    actions: alertActionHandlers(service),
    jobs: { [FLUSH_QUEUE]: () => service.pump(), [ESCALATE_QUEUE]: (job) => service.runEscalation(job) },
    // Alerts stored before a crash or restart but never routed are picked up here.
    start: async () => service.kick(),
    stop: async () => service.stop(),
  };
}
