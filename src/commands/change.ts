import { escapeMrkdwn } from '../templates/blocks.js';
import type { CommandTable } from '../commands/table.js';
import { helpSubcommand } from '../commands/table.js';
import type { ChangeService } from '../approvals/service.js';
import { CHANGE_CATEGORIES, CHANGE_RISKS, type ChangeCategory, type ChangeRisk } from '../approvals/model.js';
import { changeListMessage } from '../templates/approvals.js';
import { utc } from '../templates/format.js';

const USAGE = '/change request &lt;title&gt; [--category standard|normal|emergency] [--risk low|medium|high] [--reason "why"]';

/** `/change`: manual changes under the same approval rules as Firebreak's own risky actions. */
export function changeCommands(changes: ChangeService): CommandTable {
  const table: CommandTable = {
    command: '/change',
    description: 'Ask for approval of a production change, list open requests, review break-glass changes.',
    subcommands: [
      {
        name: 'request',
        usage: '<title> [--category standard|normal|emergency] [--risk low|medium|high] [--reason "why"]',
        description: 'Ask for approval (emergency: recorded at once with a reason, reviewed afterwards).',
        run: async (args, inv, ctx) => {
          const title = args.words.join(' ').trim();
          if (!title) return ctx.reply.ephemeral(`Give the change a title: \`${USAGE}\``);
          const category = (args.flags.category ?? 'normal').toLowerCase();
          if (!(CHANGE_CATEGORIES as readonly string[]).includes(category)) {
            return ctx.reply.ephemeral(`\`--category ${escapeMrkdwn(category)}\` isn't one I know: use standard, normal or emergency.`);
          }
          const risk = args.flags.risk?.toLowerCase();
          if (risk !== undefined && !(CHANGE_RISKS as readonly string[]).includes(risk)) {
            return ctx.reply.ephemeral(`\`--risk ${escapeMrkdwn(risk)}\` isn't one I know: use low, medium or high.`);
          }
          const reason = args.flags.reason && args.flags.reason !== 'true' ? args.flags.reason.trim() : undefined;
          if (category === 'emergency' && !reason) {
            return ctx.reply.ephemeral('An emergency change skips approval, so it needs a reason: `/change request &lt;title&gt; --category emergency --reason "why it cannot wait"`.');
          }
          const params = { title, category, risk: risk ?? null, ...(reason ? { reason } : {}) };
          const out = await changes.request(`change.${category}`, params, { userId: inv.actor.userId, channelId: inv.channelId }, {
            title, category: category as ChangeCategory, risk: risk as ChangeRisk | undefined, requestKey: inv.requestKey,
            ...(category === 'emergency' ? { breakGlassReason: reason } : {}),
          });
          if (out.status === 'refused') return ctx.reply.ephemeral(out.message);
          if (out.status === 'started') {
            const how = out.reason === 'break-glass' ? 'recorded as an emergency change; it is flagged for review after the fact' : `recorded (${out.reason})`;
            return ctx.reply.ephemeral(`Change #${out.requestId} is ${how}. Go ahead.`);
          }
          const r = await changes.get(out.requestId);
          const channel = changes.approvalsChannelName();
          return ctx.reply.ephemeral(
            `Change #${out.requestId} is waiting for ${out.approvalsNeeded} approval${out.approvalsNeeded === 1 ? '' : 's'} in #${channel}` +
              (r ? ` (expires ${utc(r.expiresAt)})` : '') + '. You will get a DM when it is decided.',
          );
        },
      },
      {
        name: 'list',
        usage: '',
        description: 'Open requests and break-glass changes awaiting review.',
        run: async (_args, _inv, ctx) => ctx.reply.ephemeral(changeListMessage(await changes.listActive())),
      },
      {
        name: 'review',
        usage: '<id> [note]',
        description: 'Mark a break-glass change as reviewed after the fact (not by whoever ran it).',
        run: async (args, inv, ctx) => {
          const id = Number(args.words[0]?.replace(/^#/, ''));
          if (!Number.isSafeInteger(id) || id <= 0) return ctx.reply.ephemeral('Which change? `/change review &lt;id&gt; [note]`');
          const out = await changes.review(id, inv.actor.userId, args.words.slice(1).join(' '));
          return ctx.reply.ephemeral(out.status === 'refused' ? out.message : `Change #${id} is marked reviewed.`);
        },
      },
      helpSubcommand(() => table),
    ],
  };
  return table;
}
