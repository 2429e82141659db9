import type { ActionHandler } from '../chat/interactions.js';
import type { AlertService } from '../alerts/service.js';
import { ALERT_ACTIONS, alertReplies } from '../templates/alerts.js';

/** Button value is the group id; anything else is a stale or forged message. */
const groupIdOf = (value: string): number | undefined => (/^\d{1,15}$/.test(value) ? Number(value) : undefined);

/** The buttons on an alert group message. Runbook is a link button; Silence/Expire live in src/handlers/silences.ts. */
export function alertActionHandlers(alerts: AlertService): Record<string, ActionHandler> {
  const acknowledge: ActionHandler = async (inv, ctx) => {
    const id = groupIdOf(inv.value);
    const out = id === undefined ? undefined : await alerts.acknowledge(id, inv.actor.userId);
    if (!out) return ctx.reply.ephemeral(alertReplies.unknownGroup(inv.value));
    if (out.status === 'already') return ctx.reply.ephemeral(alertReplies.alreadyAcknowledged(out.group.acknowledgedBy!));
    await ctx.reply.ephemeral(alertReplies.acknowledged(await alerts.titleOf(out.group)));
  };

  const declare: ActionHandler = async (inv, ctx) => {
    const id = groupIdOf(inv.value);
    const out = id === undefined ? undefined : await alerts.declareFromGroup(id, inv.actor.userId, inv.requestKey);
    if (!out) return ctx.reply.ephemeral(alertReplies.unknownGroup(inv.value));
    if (out.status === 'already') return ctx.reply.ephemeral(alertReplies.alreadyDeclared(out.incidentId));
    await ctx.reply.ephemeral(alertReplies.declared(out.incidentId));
  };

  return { [ALERT_ACTIONS.acknowledge]: acknowledge, [ALERT_ACTIONS.declare]: declare };
}
