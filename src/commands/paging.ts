import { escapeMrkdwn } from '../templates/blocks.js';
import type { Subcommand } from './table.js';
import type { IncidentService } from '../incidents/service.js';
import type { Incident } from '../incidents/model.js';
import { PagingApiError } from '../paging/provider.js';
import { PagingUserError, type PagingService } from '../paging/service.js';
import type { PageRequestOutcome } from '../paging/model.js';
import { onCallMessage, pageRequestReply } from '../templates/paging.js';

const incidentId = (word: string | undefined): number | undefined => {
  const n = Number(String(word ?? '').replace(/^inc-/i, ''));
  return Number.isInteger(n) && n > 0 ? n : undefined;
};

/** `/incident page <service> [incident-id]`: in an incident channel the incident is implied. */
export function pageSubcommand(paging: PagingService, incidents: IncidentService): Subcommand {
  return {
    name: 'page',
    usage: '<service> [incident-id]',
    description: 'Page another service on PagerDuty for this incident (its alert resolves when the incident does).',
    run: async (args, inv, ctx) => {
      const [service, idWord] = args.words;
      if (!service) {
        const known = paging.pageableServices();
        return ctx.reply.ephemeral(`Which service? \`/incident page &lt;service&gt;\`${known.length ? `; services with a routing key: ${known.map((s) => `\`${s}\``).join(', ')}` : ''}.`);
      }
      let incident: Incident | undefined;
      if (idWord !== undefined) {
        const id = incidentId(idWord);
        incident = id ? await incidents.get(id) : undefined;
        if (!incident) return ctx.reply.ephemeral(`I can't find incident \`${escapeMrkdwn(idWord)}\`. Use its number, e.g. \`/incident page ${escapeMrkdwn(service)} 12\`.`);
      } else {
        incident = await incidents.byChannel(inv.channelId);
        if (!incident) return ctx.reply.ephemeral(`Run this in the incident's channel, or name the incident: \`/incident page ${escapeMrkdwn(service)} &lt;incident-id&gt;\`.`);
      }
      const out: PageRequestOutcome = await paging.requestPage(incident.id, service, inv.actor.userId, `paged by hand`);
      await ctx.reply.ephemeral(pageRequestReply(out, incident.id));
    },
  };
}

/** `/incident oncall [service]`: who PagerDuty says is on call right now. */
export function oncallSubcommand(paging: PagingService): Subcommand {
  return {
    name: 'oncall',
    usage: '[service]',
    description: 'Show who is on call now in PagerDuty, for every policy or one service.',
    run: async (args, _inv, ctx) => {
      try {
        const { scope, entries } = await paging.onCall(args.words[0]);
        await ctx.reply.ephemeral(onCallMessage(entries, scope));
      } catch (e) {
        if (e instanceof PagingUserError || e instanceof PagingApiError) return ctx.reply.ephemeral(escapeMrkdwn(e.message));
        throw e;
      }
    },
  };
}
