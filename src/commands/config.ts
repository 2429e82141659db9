import { helpSubcommand, type CommandTable, type ParsedArgs, type Subcommand } from './table.js';
import type { ConfigVersions } from '../configversions/service.js';
import type { FlagsConfig } from '../flags/config.js';
import type { GateOutcome } from '../approvals/gate.js';
import { escapeMrkdwn } from '../templates/blocks.js';
import { chatText, codeMessage, flagsText, historyText, proposeModal, showText } from '../templates/configversions.js';

/** `12`, `#12` or `v12`. */
export function versionId(word: string | undefined): number | undefined {
  const m = /^(?:#|v)?(\d{1,15})$/i.exec(word ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The optional version argument: its number, undefined when none was given, false when it is not one. */
function versionArg(args: ParsedArgs): number | undefined | false {
  const word = args.words[0];
  const id = versionId(word);
  return word && id === undefined ? false : id;
}

const notAVersion = (args: ParsedArgs): string => `\`${escapeMrkdwn(args.words[0] ?? '')}\` is not a version number; \`/config history\` lists them.`;

const gateText = (o: GateOutcome, what: string): string =>
  o.status === 'pending' ? `${what}: change request #${o.requestId} needs ${o.approvalsNeeded} approval${o.approvalsNeeded === 1 ? '' : 's'} (\`config.change\`).`
    : o.status === 'started' ? `${what}: running now (${o.reason}).` : `${what} refused: ${escapeMrkdwn(o.message)}`;

/**
 * `/config`: propose a configuration (a modal to paste YAML), history, show, rollback by hand
 * (gated like a change) and the feature flags of the running configuration.
 */
export function configCommand(versions: ConfigVersions, flags: () => FlagsConfig): CommandTable {
  const propose: Subcommand = {
    name: 'propose',
    usage: '',
    description: 'Paste a configuration file: validated, then a change request (`config.change`) showing the diff.',
    run: async (_args, inv, ctx) => {
      if (!inv.triggerId) return ctx.reply.ephemeral('Run `/config propose` from Slack or the console: it opens a form to paste the YAML. From a shell: `firebreak config propose <file>`.');
      await ctx.reply.openModal(proposeModal({ channelId: inv.channelId }));
    },
  };
  const history: Subcommand = {
    name: 'history',
    usage: '',
    description: 'Configuration versions, newest first: status, author, approvers, time, hash.',
    run: async (_args, _inv, ctx) => ctx.reply.ephemeral(chatText('Configuration versions', historyText(await versions.history(20)))),
  };
  const show: Subcommand = {
    name: 'show',
    usage: '[version]',
    description: 'One version (default the running one): the file as proposed and the effective configuration, secrets masked.',
    run: async (args, _inv, ctx) => {
      const id = versionArg(args);
      if (id === false) return ctx.reply.ephemeral(notAVersion(args));
      const v = await versions.show(id);
      if (!v) return ctx.reply.ephemeral(id === undefined ? 'No configuration version is active yet.' : `There is no configuration version #${id}.`);
      await ctx.reply.ephemeral(codeMessage(`Configuration version #${v.id}`, showText(v)));
    },
  };
  const rollback: Subcommand = {
    name: 'rollback',
    usage: '[version]',
    description: 'Go back to a version (default the one before the running one), approved like any change.',
    run: async (args, inv, ctx) => {
      const id = versionArg(args);
      if (id === false) return ctx.reply.ephemeral(notAVersion(args));
      const o = await versions.rollback(id, { userId: inv.actor.userId, channelId: inv.channelId });
      await ctx.reply.ephemeral(gateText(o, id === undefined ? 'The rollback' : `The rollback to version #${id}`));
    },
  };
  const flagList: Subcommand = {
    name: 'flags',
    usage: '',
    description: 'Feature flags in the running configuration and who has them.',
    run: async (_args, _inv, ctx) => ctx.reply.ephemeral(chatText('Feature flags', flagsText(flags()))),
  };
  const table: CommandTable = {
    command: '/config',
    description: 'Firebreak\'s own configuration as a change: versions, approval, rollback, feature flags.',
    subcommands: [propose, history, show, rollback, flagList],
  };
  table.subcommands.push(helpSubcommand(() => table));
  return table;
}
