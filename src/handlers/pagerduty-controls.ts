/**
 * Slack side of acting in PagerDuty: the Acknowledge / Resolve / Escalate / Reassign buttons
 * under a page, the Reassign modal, and `/incident pd …`. Thin: parse, call the use case, answer.
 */
import type { ActionHandler, ViewHandler } from '../chat/interactions.js';
import type { Subcommand } from '../commands/table.js';
import type { Incident } from '../incidents/model.js';
import { PD_CONTROLS, type PagerDutyControls, type PdControl, type PdControlOutcome } from '../paging/controls.js';
import type { PagerDutyAlertControls, PdAlertControlOutcome } from '../paging/alert-controls.js';
import { ALERT_ACTIONS } from '../templates/alerts.js';
import { PD_CONTROL_ACTIONS, PD_REASSIGN_MODAL, pdReassignModal } from '../templates/paging.js';
import { escapeMrkdwn } from '../templates/blocks.js';

const pageIdOf = (value: string): number | undefined => (/^\d{1,15}$/.test(value) ? Number(value) : undefined);
const POLICY = /^P[A-Z0-9]{1,19}$/;
const MENTION = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/;

const answer = (o: PdControlOutcome | PdAlertControlOutcome): string => (o.status === 'done' ? escapeMrkdwn(o.text).replace(/&lt;@([UW][A-Z0-9]+)&gt;/g, '<@$1>') : escapeMrkdwn(o.message).replace(/&lt;@([UW][A-Z0-9]+)&gt;/g, '<@$1>'));

export function pdControlHandlers(
  controls: PagerDutyControls,
  incidents: { byChannel(channelId: string): Promise<Incident | undefined>; get(id: number): Promise<Incident | undefined> },
  groups: Pick<PagerDutyAlertControls, 'act'>,
): { actions: Record<string, ActionHandler>; views: Record<string, ViewHandler>; subcommand: Subcommand } {
  const press = (control: Exclude<PdControl, 'reassign'>): ActionHandler => async (inv, ctx) => {
    const pageId = pageIdOf(inv.value);
    if (pageId === undefined) return ctx.reply.ephemeral('That button is from an older version of Firebreak; use `/incident pd` instead.');
    await ctx.reply.ephemeral(answer(await controls.act({ actor: inv.actor.userId, control, pageId })));
  };

  const reassign: ActionHandler = async (inv, ctx) => {
    const pageId = pageIdOf(inv.value);
    if (pageId === undefined) return ctx.reply.ephemeral('That button is from an older version of Firebreak; use `/incident pd reassign` instead.');
    await ctx.reply.openModal(pdReassignModal({ pageId }, inv.channelId));
  };

  /** The same buttons on an alert group from PagerDuty: the value is the group id. */
  const pressGroup = (control: Exclude<PdControl, 'reassign'>): ActionHandler => async (inv, ctx) => {
    const groupId = pageIdOf(inv.value);
    if (groupId === undefined) return ctx.reply.ephemeral('That button is from an older version of Firebreak; use `/incident pd <action> --group <id>` instead.');
    await ctx.reply.ephemeral(answer(await groups.act({ actor: inv.actor.userId, control, groupId })));
  };

  const reassignGroup: ActionHandler = async (inv, ctx) => {
    const groupId = pageIdOf(inv.value);
    if (groupId === undefined) return ctx.reply.ephemeral('That button is from an older version of Firebreak; use `/incident pd reassign @person --group <id>` instead.');
    await ctx.reply.openModal(pdReassignModal({ groupId }, inv.channelId));
  };

  const submitReassign: ViewHandler = async (sub, ctx): Promise<Record<string, string> | void> => {
    let meta: { pageId?: number; groupId?: number; channelId?: string };
    try {
      meta = JSON.parse(sub.privateMetadata) as typeof meta;
    } catch {
      meta = {};
    }
    const ref = Number.isInteger(meta.pageId) ? `--page ${meta.pageId}` : Number.isInteger(meta.groupId) ? `--group ${meta.groupId}` : undefined;
    if (!ref || !meta.channelId) return { policy: 'This form lost its page; close it and press Reassign again.' };
    const user = sub.values.user?.trim();
    const policy = sub.values.policy?.trim().toUpperCase();
    if (!user === !policy) return { policy: 'Choose a person or give an escalation policy id, not both.' };
    if (policy && !POLICY.test(policy)) return { policy: 'A PagerDuty escalation policy id looks like PABC123.' };
    if (user && !/^[UW][A-Z0-9]+$/.test(user)) return { user: 'Choose a person from the list.' };
    // Stored and run from the job queue like a typed command: PagerDuty's retries may outlast the modal's 3 s.
    await ctx.runAsCommand('/incident', `pd reassign ${user ? `<@${user}>` : policy} ${ref}`, meta.channelId);
  };

  const subcommand: Subcommand = {
    name: 'pd',
    usage: '<acknowledge|resolve|escalate|reassign> [@person|policy-id] [incident-id | --group <alert-group-id>]',
    description: 'Act on the incident\'s PagerDuty page (or an alert group\'s PagerDuty incidents) as yourself: acknowledge, resolve, escalate to the next level, or reassign.',
    run: async (args, inv, ctx) => {
      const words = args.words;
      const word = (words[0] ?? '').toLowerCase();
      const control = (['ack', 'acknowledge'].includes(word) ? 'acknowledge' : PD_CONTROLS.find((c) => c === word)) as PdControl | undefined;
      if (!control) return ctx.reply.ephemeral('Usage: `/incident pd acknowledge|resolve|escalate|reassign [@person|policy-id] [incident-id]`.');
      const pageId = args.flags.page ? pageIdOf(args.flags.page) : undefined;
      let target: { slackUser: string } | { escalationPolicyId: string } | undefined;
      const rest = words.slice(1);
      if (control === 'reassign') {
        const who = rest.shift() ?? '';
        const m = MENTION.exec(who);
        if (m) target = { slackUser: m[1]! };
        else if (POLICY.test(who.toUpperCase())) target = { escalationPolicyId: who.toUpperCase() };
        else return ctx.reply.ephemeral('Reassign to whom? `/incident pd reassign @person` or `/incident pd reassign PABC123` (an escalation policy id).');
      }
      if (args.flags.group !== undefined) {
        const groupId = pageIdOf(args.flags.group);
        if (groupId === undefined) return ctx.reply.ephemeral('`--group` takes an alert group number, e.g. `--group 12` (it is at the bottom of the group\'s message).');
        return ctx.reply.ephemeral(answer(await groups.act({ actor: inv.actor.userId, control, groupId, ...(target ? { target } : {}) })));
      }
      let incidentId: number | undefined;
      if (pageId === undefined) {
        const idWord = rest[0];
        const i = idWord ? await incidents.get(Number(idWord.replace(/^inc-/i, '')) || -1) : await incidents.byChannel(inv.channelId);
        if (!i) return ctx.reply.ephemeral(idWord ? `There is no incident \`${escapeMrkdwn(idWord)}\`.` : 'Run this in the incident\'s channel, or add the incident id.');
        incidentId = i.id;
      }
      await ctx.reply.ephemeral(answer(await controls.act({ actor: inv.actor.userId, control, ...(pageId !== undefined ? { pageId } : { incidentId: incidentId! }), ...(target ? { target } : {}) })));
    },
  };

  return {
    actions: {
      [PD_CONTROL_ACTIONS.acknowledge]: press('acknowledge'),
      [PD_CONTROL_ACTIONS.resolve]: press('resolve'),
      [PD_CONTROL_ACTIONS.escalate]: press('escalate'),
      [PD_CONTROL_ACTIONS.reassign]: reassign,
      [ALERT_ACTIONS.pdAcknowledge]: pressGroup('acknowledge'),
      [ALERT_ACTIONS.pdResolve]: pressGroup('resolve'),
      [ALERT_ACTIONS.pdEscalate]: pressGroup('escalate'),
      [ALERT_ACTIONS.pdReassign]: reassignGroup,
    },
    views: { [PD_REASSIGN_MODAL]: submitReassign },
    subcommand,
  };
}
