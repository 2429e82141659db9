import { escapeMrkdwn } from '../templates/blocks.js';
import { helpSubcommand, type CommandTable, type ParsedArgs, type Subcommand } from './table.js';
import { resolveTarget } from './incident.js';
import type { IncidentService } from '../incidents/service.js';
import type { FollowupService } from '../followups/service.js';
import { parseActionText } from '../followups/model.js';
import { closedReply, incidentFollowupsMessage, mineMessage, noSuchFollowup, type IncidentRef } from '../templates/followups.js';
import type { CommandInvocation, InteractionContext } from '../chat/interactions.js';

/** `F-12`, `#12` or `12`. */
export function followupId(word: string | undefined): number | undefined {
  const m = /^(?:f-?|#)?(\d{1,15})$/i.exec(word ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Whether the person may change an incident's follow-ups: in its channel (or no channel to be in). */
export const mayActOn = (incidents: IncidentService) => async (incidentId: number, userId: string): Promise<boolean> => {
  const i = await incidents.get(incidentId);
  return !!i && (!i.channelId || (await incidents.isMember(i, userId)));
};

/** `/followups mine` and `/followups done <id>`: a person's own follow-ups across incidents. */
export function followupsCommand(followups: FollowupService, incidents: IncidentService, now: () => Date): CommandTable {
  const mine: Subcommand = {
    name: 'mine',
    usage: '',
    description: 'Your open follow-ups across incidents: status, due date (overdue marked), tracker link.',
    run: async (_args, inv, ctx) => {
      const list = await followups.listMine(inv.actor.userId);
      const refs = new Map<number, IncidentRef>();
      for (const id of new Set(list.map((f) => f.incidentId))) {
        const i = await incidents.get(id);
        if (i) refs.set(id, i);
      }
      await ctx.reply.ephemeral(mineMessage(list, now(), refs));
    },
  };
  const done: Subcommand = {
    name: 'done',
    usage: '<id>',
    description: 'Mark a follow-up done (its owner, whoever recorded it, or people in its incident channel).',
    run: async (args, inv, ctx) => {
      const id = followupId(args.words[0]);
      if (id === undefined) return ctx.reply.ephemeral(args.words[0] ? noSuchFollowup(args.words[0]) : 'Which follow-up? `/followups done F-12` (`/followups mine` lists yours).');
      const out = await followups.markDone(id, inv.actor.userId, mayActOn(incidents));
      await ctx.reply.ephemeral(out.ok ? closedReply(out.followup) : escapeMrkdwn(out.message).replace(/&lt;@([UW][A-Z0-9]+)&gt;/g, '<@$1>'));
    },
  };
  const table: CommandTable = {
    command: '/followups',
    description: 'Follow-ups (post-incident action items) across incidents.',
    subcommands: [mine, done],
    whenEmpty: mine.run,
  };
  table.subcommands.push(helpSubcommand(() => table));
  return table;
}

/** `/incident followups [id]` and `/incident followup add <what> [@owner] [due YYYY-MM-DD]`. */
export function incidentFollowupSubcommands(followups: FollowupService, incidents: IncidentService, now: () => Date): Subcommand[] {
  const list: Subcommand = {
    name: 'followups',
    usage: '[incident-id]',
    description: 'List the incident\'s follow-ups: status, owner, due date (overdue marked), tracker link.',
    run: async (args, inv, ctx) => {
      const t = await resolveTarget(incidents, 'followups', '', args, inv, ctx, {});
      if (!t) return;
      // Notes whose follow-up was missed (a replica died after the note) are caught up first.
      await followups.fromNotes(t.incident.id);
      await ctx.reply.ephemeral(incidentFollowupsMessage(t.incident, await followups.listForIncident(t.incident.id), now()));
    },
  };
  const usage = 'add <what> [@owner] [due YYYY-MM-DD]';
  const add: Subcommand = {
    name: 'followup',
    usage,
    description: 'Record a follow-up (exported to the team\'s tracker when one is configured).',
    run: async (args: ParsedArgs, inv: CommandInvocation, ctx: InteractionContext) => {
      const [verb = '', ...rest] = args.rest.trim().split(/\s+/);
      if (verb.toLowerCase() !== 'add') return ctx.reply.ephemeral('Usage: `/incident followup add <what> [@owner] [due YYYY-MM-DD]`; `/incident followups` lists them.'.replace('<what>', '&lt;what&gt;'));
      const restText = rest.join(' ');
      const t = await resolveTarget(incidents, 'followup add', '<what> [@owner] [due YYYY-MM-DD]', { ...args, rest: restText, words: rest }, inv, ctx, { member: true });
      if (!t) return;
      const parsed = parseActionText(t.rest);
      if ('error' in parsed) return ctx.reply.ephemeral(parsed.error);
      const out = await followups.record({ incidentId: t.incident.id, ...parsed, source: 'command', requestKey: inv.requestKey, actor: inv.actor.userId });
      await ctx.reply.ephemeral(followups.messages.recorded(out.followup, out.created));
    },
  };
  return [list, add];
}
