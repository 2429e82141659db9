import type { Subcommand } from './table.js';
import { parsePeriod, type IncidentStats, type StatsPeriod } from '../incidents/stats.js';
import { badPeriodMessage, statsMessage } from '../templates/stats.js';

/** `/incident stats [period]`: read-only, answered only to the asker. */
export function statsSubcommand(stats: (period: StatsPeriod) => Promise<IncidentStats>): Subcommand {
  return {
    name: 'stats',
    usage: '[period, e.g. 30d or 12w]',
    description: 'MTTA/MTTM/MTTR per severity over the period (default 30d) and follow-ups open, overdue and time to close (only to you).',
    run: async (args, _inv, ctx) => {
      const period = parsePeriod(args.words[0]);
      if (!period) return ctx.reply.ephemeral(badPeriodMessage(args.words[0] ?? ''));
      await ctx.reply.ephemeral(statsMessage(await stats(period)));
    },
  };
}
