import type { AppContext, FirebreakModule } from './module.js';
import { incidentStats } from '../incidents/stats.js';
import { statsSubcommand } from '../commands/incident-stats.js';

/** `/incident stats [period]`: response-time distributions and follow-up counts per severity (src/incidents/stats.ts). */
export function incidentStatsModule(ctx: AppContext): FirebreakModule {
  return {
    name: 'incident-stats',
    subcommands: { '/incident': [statsSubcommand((period) => incidentStats({ db: ctx.pool, clock: ctx.clock }, period))] },
  };
}
