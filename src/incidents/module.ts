import type { AppContext, FirebreakModule } from '../module.js';
import { IncidentService } from './service.js';
import { REMINDER_QUEUE } from './reminders.js';
import { incidentCommand } from '../commands/incident.js';
import { declareViewHandler, incidentActionHandlers, incidentEventHandlers, incidentViewHandlers } from '../handlers/incidents.js';

export function incidentsModule(ctx: AppContext): FirebreakModule {
  const service = new IncidentService(ctx);
  ctx.services.incidents = service;
  return {
    name: 'incidents',
    commands: [incidentCommand(service)],
    actions: incidentActionHandlers(service),
    views: { 'incident.declare': declareViewHandler(service), ...incidentViewHandlers(service) },
    events: incidentEventHandlers(service),
    jobs: { [REMINDER_QUEUE]: (job) => service.runReminderJob(job) },
  };
}
