import type { CommandTable, Subcommand } from './table.js';
import { helpSubcommand } from './table.js';
import type { SilenceService } from '../silences/service.js';
import { parseSilenceArgs } from '../silences/model.js';
import { expireOutcomeText, silenceOutcomeText, silencesList } from '../templates/silences.js';
import { escapeMrkdwn } from '../templates/blocks.js';

/** `/alerts`: silences at the source (and, where Firebreak owns it, maintenance). */
export function alertsCommand(silences: SilenceService, opts: { maxSilenceMs: number; now: () => Date }): CommandTable {
  const silence: Subcommand = {
    name: 'silence',
    usage: '<matchers> <duration> <comment> [--alertmanager name]',
    description: 'Create a silence in Alertmanager, e.g. `alertname="DiskFull" instance=~"db-.*" 2h disk swap`.',
    run: async (args, inv, ctx) => {
      const am = args.flags.alertmanager;
      const text = args.rest.replace(/--alertmanager(?:=|\s+)\S+/, '').trim();
      let parsed;
      try {
        parsed = parseSilenceArgs(text, opts.maxSilenceMs);
      } catch (e) {
        return ctx.reply.ephemeral(`${escapeMrkdwn((e as Error).message)}\nUsage: \`/alerts silence &lt;matchers&gt; &lt;duration&gt; &lt;comment&gt;\``);
      }
      const out = await silences.create({ requestKey: `cmd:${inv.requestKey}`, actor: inv.actor.userId, ...parsed, ...(am && am !== 'true' ? { alertmanager: am } : {}) });
      await ctx.reply.ephemeral(silenceOutcomeText(out));
    },
  };

  const list: Subcommand = {
    name: 'silences',
    usage: '[filter]',
    description: 'List active and pending silences (read live from Alertmanager), each with an Expire button.',
    run: async (args, _inv, ctx) => {
      const filter = args.rest.trim() || undefined;
      const { silences: found, unreachable } = await silences.list(filter);
      await ctx.reply.ephemeral(silencesList(found, opts.now(), filter, unreachable));
    },
  };

  const unsilence: Subcommand = {
    name: 'unsilence',
    aliases: ['expire'],
    usage: '<silence-id>',
    description: 'Expire a silence now: notifications for its alerts resume.',
    run: async (args, inv, ctx) => {
      const id = args.words[0];
      if (!id) return ctx.reply.ephemeral('Which silence? `/alerts unsilence &lt;silence-id&gt;`; `/alerts silences` lists them.');
      await ctx.reply.ephemeral(expireOutcomeText(await silences.expire(inv.actor.userId, id)));
    },
  };

  const table: CommandTable = {
    command: '/alerts',
    description: 'Silence alerts where they live (Alertmanager), list and expire silences.',
    subcommands: [silence, list, unsilence],
  };
  table.subcommands.push(helpSubcommand(() => table));
  return table;
}
