import type { AppContext, FirebreakModule } from '../module.js';
import { IncidentService } from './service.js';
import { incidentCommand } from '../commands/incident.js';
import { declareViewHandler } from '../handlers/incidents.js';

export function incidentsModule(ctx: AppContext): FirebreakModule {
  const service = new IncidentService(ctx);
  ctx.services.incidents = service;
  return {
    name: 'incidents',
    commands: [incidentCommand(service)],
    views: { 'incident.declare': declareViewHandler(service) },
  };
}
