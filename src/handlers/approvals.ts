import type { ActionHandler, ViewHandler } from '../chat/interactions.js';
import type { ChangeService, DecisionOutcome } from '../approvals/service.js';
import {
  APPROVE_ACTION, BREAK_GLASS_ACTION, BREAK_GLASS_VIEW, REJECT_ACTION, REJECT_REASON_FIELD, REJECT_REASON_VIEW, REVIEW_ACTION,
  breakGlassModal, rejectReasonModal,
} from '../templates/approvals.js';

/** Thin listeners: parse the button or modal, call one service method, answer the clicker. */

function requestId(raw: string | undefined): number | undefined {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function answer(out: DecisionOutcome): string {
  switch (out.status) {
    case 'refused':
      return out.message;
    case 'recorded':
      return `Your approval of change #${out.request.id} is recorded. ${out.remaining} more approval${out.remaining === 1 ? '' : 's'} needed.`;
    case 'approved':
      return `Change #${out.request.id} is approved and is running now. The request message shows the result.`;
    case 'rejected':
      return `Change #${out.request.id} is rejected.`;
    case 'reviewed':
      return `Change #${out.request.id} is marked reviewed.`;
    case 'broke-glass':
      return `Change #${out.request.id} is running now under break-glass. It is flagged for review after the fact.`;
  }
}

export function approvalActions(changes: ChangeService): Record<string, ActionHandler> {
  return {
    [APPROVE_ACTION]: async (inv, ctx) => {
      const [idText, hash] = inv.value.split(':');
      const id = requestId(idText);
      if (!id || !hash) return ctx.reply.ephemeral('That approval button is malformed; use the buttons on the latest request message.');
      await ctx.reply.ephemeral(answer(await changes.approve(id, inv.actor.userId, hash)));
    },
    [REJECT_ACTION]: async (inv, ctx) => {
      const id = requestId(inv.value);
      const r = id ? await changes.get(id) : undefined;
      if (!r) return ctx.reply.ephemeral('That change request no longer exists.');
      if (r.status !== 'pending') return ctx.reply.ephemeral(`Change #${r.id} is ${r.status}; there is nothing to reject.`);
      await ctx.reply.openModal(rejectReasonModal(r));
    },
    [BREAK_GLASS_ACTION]: async (inv, ctx) => {
      const id = requestId(inv.value);
      const r = id ? await changes.get(id) : undefined;
      if (!r) return ctx.reply.ephemeral('That change request no longer exists.');
      if (r.status !== 'pending') return ctx.reply.ephemeral(`Change #${r.id} is ${r.status}; there is nothing to break glass on.`);
      // The service checks again on submit; this only spares others a modal they can't use.
      if (r.requester !== inv.actor.userId) return ctx.reply.ephemeral(`Only <@${r.requester}>, who asked for change #${r.id}, can break glass on it.`);
      await ctx.reply.openModal(breakGlassModal(r));
    },
    [REVIEW_ACTION]: async (inv, ctx) => {
      const id = requestId(inv.value);
      if (!id) return ctx.reply.ephemeral('That review button is malformed.');
      await ctx.reply.ephemeral(answer(await changes.review(id, inv.actor.userId)));
    },
  };
}

export function approvalViews(changes: ChangeService): Record<string, ViewHandler> {
  return {
    [REJECT_REASON_VIEW]: async (sub) => {
      const id = requestId(sub.privateMetadata);
      const reason = sub.values[REJECT_REASON_FIELD]?.trim() ?? '';
      if (!id) return { [REJECT_REASON_FIELD]: 'This form lost track of its change request; click Reject again.' };
      if (!reason) return { [REJECT_REASON_FIELD]: 'Say why, so the requester knows what to change.' };
      const out = await changes.reject(id, sub.actor.userId, reason);
      // The modal is the only place the rejecter is looking: refusals show next to the field.
      if (out.status === 'refused') return { [REJECT_REASON_FIELD]: out.message };
    },
    [BREAK_GLASS_VIEW]: async (sub, ctx) => {
      const id = requestId(sub.privateMetadata);
      const reason = sub.values[REJECT_REASON_FIELD]?.trim() ?? '';
      if (!id) return { [REJECT_REASON_FIELD]: 'This form lost track of its change request; click Break glass again.' };
      if (!reason) return { [REJECT_REASON_FIELD]: 'Say why this cannot wait for approval; reviewers will read it.' };
      const out = await changes.breakGlass(id, sub.actor.userId, reason);
      if (out.status === 'refused') return { [REJECT_REASON_FIELD]: out.message };
      await ctx.reply.ephemeral(answer(out));
    },
  };
}
