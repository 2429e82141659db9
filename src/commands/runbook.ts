import { escapeMrkdwn } from '../templates/blocks.js';
import type { CommandTable, ParsedArgs, Subcommand } from './table.js';
import { helpSubcommand } from './table.js';
import type { CommandInvocation, InteractionContext } from '../chat/interactions.js';
import { loadRunbook, loadRunbooks, RUNBOOK_SECTIONS, describeRunbookProblems, type RunbookSection } from '../runbooks/runbook.js';
import { runbookListMessage, runbookMessage } from '../templates/runbooks.js';

export interface RunbookCommandDeps {
  runbooksDir: string;
  publicUrl: string;
}

function sectionNamed(word: string | undefined): RunbookSection | undefined {
  if (!word) return undefined;
  const key = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const n = Number(word);
  if (Number.isInteger(n) && n >= 1 && n <= 10) return RUNBOOK_SECTIONS[n - 1];
  return RUNBOOK_SECTIONS.find((s) => key(s) === key(word) || key(s).startsWith(key(word)));
}

/** `/runbook` — read the Markdown runbooks in `ops.runbooksDir` from chat. */
export function runbookCommand(deps: RunbookCommandDeps): CommandTable {
  const show = async (args: ParsedArgs, _inv: CommandInvocation, ctx: InteractionContext) => {
    const [name, sectionWord] = args.words;
    if (!name) return ctx.reply.ephemeral('Which runbook? Usage: `/runbook &lt;name&gt; [section]`. See `/runbook list`.');
    const found = await loadRunbook(deps.runbooksDir, name);
    if (!found) {
      const all = await loadRunbooks(deps.runbooksDir).catch(() => []);
      const near = all.filter((r) => r.name.includes(name.toLowerCase()) || name.toLowerCase().includes(r.name)).map((r) => `\`${r.name}\``);
      return ctx.reply.ephemeral(
        `There is no runbook called \`${escapeMrkdwn(name.slice(0, 80))}\`.${near.length ? ` Did you mean ${near.join(', ')}?` : ''} See \`/runbook list\`.`,
      );
    }
    const section = sectionNamed(sectionWord);
    if (sectionWord && !section) {
      return ctx.reply.ephemeral(`\`${escapeMrkdwn(sectionWord.slice(0, 40))}\` is not a runbook section. Sections: ${RUNBOOK_SECTIONS.map((s, i) => `${i + 1} ${s}`).join(', ')}.`);
    }
    if (section && !found.runbook.sections.some((s) => s.section === section)) {
      return ctx.reply.ephemeral(`Runbook \`${found.runbook.name}\` has no ${section} section yet.`);
    }
    await ctx.reply.ephemeral(runbookMessage(found.runbook, deps.publicUrl, section));
  };

  const subcommands: Subcommand[] = [
    {
      name: 'list',
      aliases: ['ls'],
      usage: '',
      description: 'List the runbooks.',
      run: async (_a, _i, ctx) => {
        try {
          await ctx.reply.ephemeral(runbookListMessage(await loadRunbooks(deps.runbooksDir), deps.publicUrl));
        } catch (e) {
          await ctx.reply.ephemeral(`I couldn't read the runbooks: ${escapeMrkdwn((e as Error).message)}`);
        }
      },
    },
    {
      name: 'show',
      usage: '<name> [section]',
      description: 'Show a runbook, or one section of it (`/runbook backup-failed mitigation`). `/runbook <name>` does the same.',
      run: show,
    },
    {
      name: 'check',
      usage: '',
      description: 'Check every runbook has the ten standard sections.',
      run: async (_a, _i, ctx) => {
        const all = await loadRunbooks(deps.runbooksDir).catch((e: Error) => e);
        if (all instanceof Error) return ctx.reply.ephemeral(`I couldn't read the runbooks: ${escapeMrkdwn(all.message)}`);
        const bad = all.map((r) => ({ r, problems: describeRunbookProblems(r) })).filter((x) => x.problems.length);
        if (bad.length === 0) return ctx.reply.ephemeral(`All ${all.length} runbooks have the ten standard sections.`);
        await ctx.reply.ephemeral(
          `${bad.length} of ${all.length} runbooks need work:\n${bad.map((x) => `• \`${x.r.name}\`: ${x.problems.join('; ')}`).join('\n')}`,
        );
      },
    },
  ];
  const table: CommandTable = {
    command: '/runbook',
    description: 'Read the runbooks: what to do when something breaks.',
    subcommands,
    fallback: show,
  };
  subcommands.push(helpSubcommand(() => table));
  return table;
}
