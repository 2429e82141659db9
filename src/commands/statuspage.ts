import type { Subcommand } from './table.js';
import type { IncidentService } from '../incidents/service.js';
import type { StatusPageService } from '../statuspage/service.js';
import { resolveTarget } from './incident.js';
import { publishModal, statusPageReplies } from '../templates/statuspage.js';

/** `/incident status-page [id]`: opens the publish form for the incident, prefilled. */
export function statusPageSubcommand(incidents: IncidentService, statusPage: StatusPageService, components: { id: string; name: string; group?: string }[]): Subcommand {
  const usage = '[incident-id]';
  return {
    name: 'status-page',
    usage,
    description: 'Publish a public status page update (prefilled from the customer template); it goes public only after approval.',
    run: async (args, inv, ctx) => {
      if (!statusPage.enabled) return ctx.reply.ephemeral(statusPageReplies.off);
      const t = await resolveTarget(incidents, 'status-page', usage, args, inv, ctx, { member: true });
      if (!t) return;
      if (!inv.triggerId) return ctx.reply.ephemeral('Run `/incident status-page` from Slack: it opens a form.');
      const draft = (await statusPage.draft(t.incident.id, t.incident.status === 'resolved'))!;
      await ctx.reply.openModal(publishModal({ incidentId: t.incident.id, channelId: inv.channelId, ...draft, components }));
    },
  };
}
