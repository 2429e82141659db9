import type { AppContext, FirebreakModule } from '../module.js';
import { IncidentService } from './service.js';

export function incidentsModule(ctx: AppContext): FirebreakModule {
  const service = new IncidentService(ctx);
  ctx.services.incidents = service;
  return { name: 'incidents' };
}
