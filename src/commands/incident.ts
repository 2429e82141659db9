import type { CommandTable, Subcommand } from '../commands/table.js';
import { helpSubcommand } from '../commands/table.js';
import type { IncidentService, WarRoomResult } from '../incidents/service.js';
import type { InteractionContext } from '../chat/interactions.js';
import { parseSeverity } from '../incidents/model.js';
import { declareModal, declaredReply, duplicateReply } from '../templates/incidents.js';

const LOOKS_LIKE_SEVERITY = /^(?:p|sev[-_]?|s)\d+$/i;
export const MAX_TITLE = 200;

/** What `/incident declare` understood from its text. */
export type DeclareParse =
  | { kind: 'ok'; severity: NonNullable<ReturnType<typeof parseSeverity>>; title: string }
  | { kind: 'modal'; severity?: string; title?: string }
  | { kind: 'error'; message: string };

export function parseDeclare(rest: string): DeclareParse {
  const text = rest.trim();
  if (!text) return { kind: 'modal' };
  const [first = '', ...others] = text.split(/\s+/);
  const severity = parseSeverity(first);
  if (!severity) {
    if (LOOKS_LIKE_SEVERITY.test(first)) {
      return { kind: 'error', message: `\`${first}\` isn't a severity I know. Use P0 (critical) to P4 (informational), e.g. \`/incident declare P1 Database down\`.` };
    }
    return { kind: 'modal', title: text.slice(0, MAX_TITLE) };
  }
  const title = others.join(' ').trim();
  if (!title) return { kind: 'modal', severity };
  if (title.length > MAX_TITLE) return { kind: 'error', message: `That title is ${title.length} characters; keep it under ${MAX_TITLE} and put details in the summary.` };
  return { kind: 'ok', severity, title };
}

/** Tells the declarer how the background setup went, wherever they declared from. */
export function reportDeclare(ctx: InteractionContext, replyTo?: (text: string) => Promise<void>) {
  return async (r: WarRoomResult) => {
    const msg = declaredReply(r.incident, r.problems);
    if (replyTo) await replyTo(msg.text);
    else await ctx.reply.ephemeral(msg);
  };
}

export function incidentCommand(incidents: IncidentService): CommandTable {
  const declare: Subcommand = {
    name: 'declare',
    usage: '<P0-P4> <title>',
    description: 'Declare an incident: opens a channel, invites responders, announces it. Without severity or title, opens a form.',
    run: async (args, inv, ctx) => {
      const parsed = parseDeclare(args.rest);
      if (parsed.kind === 'error') return ctx.reply.ephemeral(parsed.message);
      if (parsed.kind === 'modal') {
        if (!inv.triggerId) return ctx.reply.ephemeral('Give a severity and a title: `/incident declare P1 Database down`.');
        const view = declareModal(parsed);
        view.private_metadata = JSON.stringify({ channelId: inv.channelId });
        return ctx.reply.openModal(view);
      }
      const out = await incidents.declare(
        { title: parsed.title, severity: parsed.severity, actor: inv.actor.userId, requestKey: inv.requestKey },
        reportDeclare(ctx),
      );
      if (out.status === 'duplicate') return ctx.reply.ephemeral(duplicateReply(out.incident));
    },
  };

  const setup: Subcommand = {
    name: 'setup',
    usage: '<incident-id>',
    description: 'Retry the channel, invitations, headline and announcement steps that failed at declare.',
    run: async (args, _inv, ctx) => {
      const id = Number(String(args.words[0] ?? '').replace(/^inc-/i, ''));
      const i = Number.isInteger(id) && id > 0 ? await incidents.get(id) : undefined;
      if (!i) return ctx.reply.ephemeral('Which incident? `/incident setup <id>`, e.g. `/incident setup 12`.');
      const r = await incidents.openWarRoom(i.id);
      await ctx.reply.ephemeral(declaredReply(r.incident, r.problems));
    },
  };

  const table: CommandTable = {
    command: '/incident',
    description: 'Declare and run incidents.',
    subcommands: [declare, setup],
  };
  table.subcommands.push(helpSubcommand(() => table));
  return table;
}
