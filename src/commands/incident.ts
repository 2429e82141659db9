import { escapeMrkdwn } from '../templates/blocks.js';
import type { CommandTable, ParsedArgs, Subcommand } from '../commands/table.js';
import { helpSubcommand } from '../commands/table.js';
import type { ChangeOutcome, IncidentService } from '../incidents/service.js';
import type { CommandInvocation, InteractionContext } from '../chat/interactions.js';
import { parseRole, parseSeverity, parseStatus, type Incident } from '../incidents/model.js';
import {
  declareModal, duplicateReply, listMessage, noSuchIncidentAnswer, notMemberAnswer, resolvedAnswer,
  timelineMessage, updateModal, whichIncidentAnswer,
} from '../templates/incidents.js';

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
      // The setup job tells the declarer how it went, from whichever replica runs it.
      const out = await incidents.declare({
        title: parsed.title, severity: parsed.severity, actor: inv.actor.userId, requestKey: inv.requestKey,
        notify: ctx.replyAddress ?? { userId: inv.actor.userId, channelId: inv.channelId },
      });
      if (out.status === 'duplicate') return ctx.reply.ephemeral(duplicateReply(out.incident));
    },
  };

  const setup: Subcommand = {
    name: 'setup',
    usage: '<incident-id>',
    description: 'Finish the channel, invitations, headline, drafts and announcement steps now (found ones are adopted, never made twice).',
    run: async (args, inv, ctx) => {
      const id = Number(String(args.words[0] ?? '').replace(/^inc-/i, ''));
      const i = Number.isInteger(id) && id > 0 ? await incidents.get(id) : undefined;
      if (!i) return ctx.reply.ephemeral('Which incident? `/incident setup &lt;id&gt;`, e.g. `/incident setup 12`.');
      const notify = ctx.replyAddress ?? { userId: inv.actor.userId, channelId: inv.channelId };
      // The setup job answers when it has run; only a setup already running is answered here.
      if ((await incidents.repairWarRoom(i.id, notify)) === 'running') {
        await ctx.reply.ephemeral(`The setup of INC-${i.id} is running right now; it reports here when it is done.`);
      }
    },
  };

  const table: CommandTable = {
    command: '/incident',
    description: 'Declare and run incidents. Inside an incident channel the incident is implied; elsewhere put its id after the subcommand.',
    subcommands: [declare, ...lifecycleSubcommands(incidents), setup],
  };
  table.subcommands.push(helpSubcommand(() => table));
  return table;
}

/** `12`, `INC-12`, `#12`. Inside an incident channel only the `INC-12` / `#12` forms count, so `update 3 pods restarted` stays text. */
function leadingId(word: string | undefined, inIncidentChannel: boolean): number | undefined {
  if (!word) return undefined;
  const m = (inIncidentChannel ? /^(?:inc-?|#)(\d+)$/i : /^(?:inc-?|#)?(\d+)$/i).exec(word);
  return m ? Number(m[1]) : undefined;
}

interface Target {
  incident: Incident;
  /** The arguments after the incident id (or all of them inside the channel). */
  rest: string;
  words: string[];
  inChannel: boolean;
}

interface Guard {
  /** Refused on a resolved incident (changes); reads and reopen pass. */
  open?: boolean;
  /** Only people in the incident channel may run it. */
  member?: boolean;
}

/**
 * Finds the incident a subcommand is about (the channel it runs in, or the id after it)
 * and checks the caller may act on it. Answers the person itself when not.
 */
export async function resolveTarget(
  incidents: IncidentService, sub: string, usage: string, args: ParsedArgs, inv: CommandInvocation, ctx: InteractionContext, guard: Guard,
): Promise<Target | undefined> {
  const here = await incidents.byChannel(inv.channelId);
  const first = args.rest.trim().split(/\s+/)[0];
  const id = leadingId(first, !!here);
  let incident = here;
  let rest = args.rest.trim();
  if (id !== undefined) {
    incident = await incidents.get(id);
    if (!incident) {
      await ctx.reply.ephemeral(noSuchIncidentAnswer(id));
      return undefined;
    }
    rest = rest.slice(first!.length).trim();
  }
  if (!incident) {
    await ctx.reply.ephemeral(whichIncidentAnswer(sub, usage));
    return undefined;
  }
  const inChannel = !!incident.channelId && incident.channelId === inv.channelId;
  const user = inv.actor.userId;
  if (inChannel) await incidents.noteMember(incident, user, 'acted in channel');
  if (guard.member && incident.channelId && !inChannel && !(await incidents.isMember(incident, user))) {
    await ctx.reply.ephemeral(notMemberAnswer(incident));
    return undefined;
  }
  // A re-run of a request that resolved the incident itself (its replica died after saving)
  // goes on to finish what followed the change instead of being refused.
  if (guard.open && incident.status === 'resolved' && !(await incidents.madeChange(incident.id, inv.requestKey))) {
    await ctx.reply.ephemeral(resolvedAnswer(incident, `/incident ${sub}`));
    return undefined;
  }
  return { incident, rest, words: rest ? rest.split(/\s+/) : [], inChannel };
}

/** Tells the person how a change went when they cannot see it happen (outside the channel, or refused, or partly failed). */
export async function reportChange(ctx: InteractionContext, out: ChangeOutcome, inChannel: boolean, done: string): Promise<void> {
  if (!out.ok) return ctx.reply.ephemeral(out.message);
  if (out.problems.length) {
    return ctx.reply.ephemeral(`${done} — saved, but some chat steps failed:\n${out.problems.map((p) => `• ${escapeMrkdwn(p)}`).join('\n')}`);
  }
  if (!inChannel) await ctx.reply.ephemeral(`${done}.`);
}

/** Slack mentions arrive as <@U123|name>; the console and people also type @U123 or U123. */
export function parseUser(word: string | undefined, self: string): string | undefined {
  if (!word) return undefined;
  if (/^(me|myself|@me)$/i.test(word)) return self;
  const m = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(word) ?? /^@?([UW][A-Z0-9]{2,})$/.exec(word);
  return m?.[1];
}

const MAX_TEXT = 2800;

function lifecycleSubcommands(incidents: IncidentService): Subcommand[] {
  const sub = (
    name: string, usage: string, description: string, guard: Guard,
    run: (t: Target, inv: CommandInvocation, ctx: InteractionContext) => Promise<void>,
  ): Subcommand => ({
    name, usage: `${usage}`, description,
    run: async (args, inv, ctx) => {
      const t = await resolveTarget(incidents, name, usage, args, inv, ctx, guard);
      if (t) await run(t, inv, ctx);
    },
  });
  const tooLong = (text: string) => `That is ${text.length} characters; keep it under ${MAX_TEXT} (put the details in a thread).`;

  return [
    sub('update', '[text]', 'Post a stakeholder update (restarts the update cadence). Without text, opens a prefilled draft.', { open: true, member: true }, async (t, inv, ctx) => {
      if (!t.rest) {
        if (!inv.triggerId) return ctx.reply.ephemeral('Say what changed: `/incident update &lt;text&gt;`.');
        return ctx.reply.openModal(updateModal(t.incident, await incidents.editableDraft('internal', t.incident)));
      }
      if (t.rest.length > MAX_TEXT) return ctx.reply.ephemeral(tooLong(t.rest));
      await reportChange(ctx, await incidents.postUpdate(t.incident.id, inv.actor.userId, t.rest, inv.requestKey), t.inChannel, `Update posted to INC-${t.incident.id}`);
    }),
    sub('status', 'investigating|identified|monitoring|resolved', 'Set the status; monitoring marks it mitigated, resolved resolves it.', { open: true, member: true }, async (t, inv, ctx) => {
      const status = parseStatus(t.words[0]);
      if (!status) return ctx.reply.ephemeral(`\`${escapeMrkdwn(t.words[0] ?? '')}\` isn't a status. Use one of: investigating, identified, monitoring, resolved.`);
      await reportChange(ctx, await incidents.setStatus(t.incident.id, inv.actor.userId, status, inv.requestKey), t.inChannel, `INC-${t.incident.id} is now ${status}`);
    }),
    sub('severity', '<P0-P4>', 'Change the severity; raising it applies the new severity\'s policy (responders, announcement, cadence).', { open: true, member: true }, async (t, inv, ctx) => {
      const severity = parseSeverity(t.words[0]);
      if (!severity) return ctx.reply.ephemeral(`\`${escapeMrkdwn(t.words[0] ?? '')}\` isn't a severity. Use P0 (critical) to P4 (informational), e.g. \`/incident severity P1\`.`);
      await reportChange(ctx, await incidents.setSeverity(t.incident.id, inv.actor.userId, severity, inv.requestKey), t.inChannel, `INC-${t.incident.id} is now ${severity}`);
    }),
    sub('role', 'commander|comms|tech @user', 'Give someone a role (they are invited to the channel).', { open: true, member: true }, async (t, inv, ctx) => {
      const role = parseRole(t.words[0]);
      const user = parseUser(t.words[1], inv.actor.userId);
      if (!role || !user) {
        const unlinked = role && t.words[1]?.startsWith('@') ? ` I couldn't tell who \`${t.words[1]}\` is: pick the person from Slack's @-autocomplete so the mention links to them.` : '';
        return ctx.reply.ephemeral(`Usage: \`/incident role commander|comms|tech @someone\` (or \`me\`).${unlinked}`);
      }
      await reportChange(ctx, await incidents.assignRole(t.incident.id, inv.actor.userId, role, user, inv.requestKey), t.inChannel, `<@${user}> now holds ${role} on INC-${t.incident.id}`);
    }),
    sub('note', '<text>', 'Add a note to the timeline (`action: <what> @owner due YYYY-MM-DD` becomes a post-mortem action item).', { open: true, member: true }, async (t, inv, ctx) => {
      if (!t.rest) return ctx.reply.ephemeral('What should the note say? `/incident note &lt;text&gt;`.');
      if (t.rest.length > MAX_TEXT) return ctx.reply.ephemeral(tooLong(t.rest));
      await reportChange(ctx, await incidents.addNote(t.incident.id, inv.actor.userId, t.rest, inv.requestKey), t.inChannel, `Note added to INC-${t.incident.id}`);
    }),
    sub('timeline', '', 'Show the timeline with exact times and MTTA / MTTM / MTTR.', {}, async (t, _inv, ctx) => {
      const fresh = (await incidents.get(t.incident.id))!;
      await ctx.reply.ephemeral(timelineMessage(fresh, await incidents.timeline(fresh.id)));
    }),
    sub('resolve', '[summary]', 'Resolve it: resolved notice, announcement, and the post-mortem draft.', { member: true }, async (t, inv, ctx) => {
      if (t.rest.length > MAX_TEXT) return ctx.reply.ephemeral(tooLong(t.rest));
      await reportChange(ctx, await incidents.resolve(t.incident.id, inv.actor.userId, t.rest || undefined, inv.requestKey), t.inChannel, `INC-${t.incident.id} resolved`);
    }),
    sub('reopen', '[reason]', 'Reopen a resolved incident (status back to investigating, reminders resume).', { member: true }, async (t, inv, ctx) => {
      await reportChange(ctx, await incidents.reopen(t.incident.id, inv.actor.userId, t.rest || undefined, inv.requestKey), t.inChannel, `INC-${t.incident.id} reopened`);
    }),
    {
      name: 'list',
      usage: '',
      description: 'List the open incidents.',
      run: async (_args, _inv, ctx) => ctx.reply.ephemeral(listMessage(await incidents.open(), incidents.ctx.clock.now())),
    },
    sub('postmortem', '', 'Regenerate the post-mortem draft from the timeline and upload it.', { member: true }, async (t, inv, ctx) => {
      const pm = await incidents.generatePostmortem(t.incident.id, inv.actor.userId, inv.requestKey);
      if (!t.inChannel) await ctx.reply.ephemeral(`Post-mortem draft v${pm.version} for INC-${t.incident.id} is uploaded to its channel.`);
    }),
  ];
}
