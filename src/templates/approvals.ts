import type { Block, ChatMessage, ModalView } from '../chat/surface.js';
import type { ChangeRequest } from '../approvals/model.js';
import { canonicalJson } from '../events/canonical.js';
import { button, context, escapeMrkdwn, mention, section, utc } from './format.js';

export const APPROVE_ACTION = 'change_approve';
export const REJECT_ACTION = 'change_reject';
export const REVIEW_ACTION = 'change_review';
export const REJECT_REASON_VIEW = 'change_reject_reason';
export const REJECT_REASON_FIELD = 'reason';

/** Everything the approval message shows, read fresh from the database at each render. */
export interface ChangeRequestView {
  request: ChangeRequest;
  /** The gated action's own one-line description of what approving will do. */
  description: string;
  now: Date;
  /** Approvers whose approval counts for the current parameters. */
  approvedBy: string[];
  /** People whose approval was given for earlier parameters and no longer counts. */
  voidedApprovers: string[];
  approvers: string[];
  approverGroups: string[];
}

const STATUS_ICON: Record<ChangeRequest['status'], string> = {
  pending: ':hourglass_flowing_sand:', approved: ':gear:', executing: ':gear:', executed: ':white_check_mark:',
  failed: ':x:', rejected: ':no_entry:', expired: ':alarm_clock:', void: ':warning:',
};

/** Slack renders this in the reader's time zone; the fallback is UTC. */
const slackTime = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${utc(d)}>`;

const people = (ids: string[]) => ids.map(mention).join(', ');

function approverList(v: ChangeRequestView): string {
  const list = [...v.approvers.map(mention), ...v.approverGroups.map((g) => `<!subteam^${g}>`)];
  return list.length ? list.join(', ') : 'anyone except the requester';
}

function statusLine(v: ChangeRequestView): string {
  const r = v.request;
  const got = v.approvedBy.length;
  const approved = got ? ` Approved by ${people(v.approvedBy)}.` : '';
  switch (r.status) {
    case 'pending': {
      const left = Math.max(0, r.approvalsRequired - got);
      return `${STATUS_ICON.pending} *Waiting for ${left} more approval${left === 1 ? '' : 's'}* (${got} of ${r.approvalsRequired}).${approved} Expires ${slackTime(r.expiresAt)}.`;
    }
    case 'approved':
    case 'executing':
      return `${STATUS_ICON.executing} *Running* since ${utc(r.executedAt ?? v.now)} (${describeStart(r)}).${approved}`;
    case 'executed':
    case 'failed':
      return `${STATUS_ICON[r.status]} *${r.status === 'executed' ? 'Done' : 'Failed'}* at ${utc(r.finishedAt)}: ${escapeMrkdwn(r.resultSummary ?? '')} (${describeStart(r)}).${approved}`;
    case 'rejected':
      return `${STATUS_ICON.rejected} *${r.rejectedBy === r.requester ? 'Withdrawn' : 'Rejected'}* by ${mention(r.rejectedBy)} at ${utc(r.decidedAt)}: ${escapeMrkdwn(r.rejectReason ?? '')}`;
    case 'expired':
      return `${STATUS_ICON.expired} *Expired* at ${utc(r.expiresAt)} with ${got} of ${r.approvalsRequired} approvals. Nothing was run.`;
    case 'void':
      return `${STATUS_ICON.void} *Void*: ${escapeMrkdwn(r.voidReason ?? 'the parameters changed')}. Nothing was run; ask again.`;
  }
}

function describeStart(r: ChangeRequest): string {
  switch (r.startedBecause) {
    case 'break-glass': return 'break-glass, no approval';
    case 'pre-approved': return 'pre-approved standard change';
    case 'no-approval-required': return 'policy needs no approval';
    default: return 'approved';
  }
}

function paramsText(params: Record<string, unknown>): string {
  const json = canonicalJson(params);
  return json.length > 1500 ? json.slice(0, 1500) + '…' : json;
}

/** The approval request as posted in the approvals channel and approvers' DMs; re-rendered on every change. */
export function renderChangeRequest(v: ChangeRequestView): ChatMessage {
  const r = v.request;
  const breakGlass = r.startedBecause === 'break-glass';
  const headline = `${breakGlass ? ':rotating_light: Break-glass change' : 'Change request'} #${r.id}: ${escapeMrkdwn(r.title)}`;
  const blocks: Block[] = [
    section(`*${headline}*\n${escapeMrkdwn(v.description)}`),
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Action*\n\`${r.kind}\`` },
        { type: 'mrkdwn', text: `*Requested by*\n${mention(r.requester)}` },
        { type: 'mrkdwn', text: `*Category / risk*\n${r.category} / ${r.risk ?? 'not assessed'}` },
        { type: 'mrkdwn', text: `*Approvers*\n${breakGlass ? 'after the fact: ' : `${r.approvalsRequired} of `}${approverList(v)}` },
      ],
    },
    context(`Parameters (sha256 \`${r.paramsHash.slice(0, 16)}\`): \`${escapeMrkdwn(paramsText(r.params))}\``),
  ];
  if (breakGlass) {
    const review = r.reviewedAt
      ? `:ballot_box_with_check: Reviewed by ${mention(r.reviewedBy)} at ${utc(r.reviewedAt)}${r.reviewNote ? `: ${escapeMrkdwn(r.reviewNote)}` : ''}`
      : ':mag: *Needs review after the fact.*';
    blocks.push(section(`*Reason:* ${escapeMrkdwn(r.breakGlassReason ?? '')}\n${review}`));
  }
  blocks.push(section(statusLine(v)));
  if (v.voidedApprovers.length && r.status === 'pending') {
    blocks.push(context(`:warning: Earlier approval by ${people(v.voidedApprovers)} no longer counts: the parameters changed after it was given.`));
  }
  if (r.status === 'pending') {
    blocks.push({
      type: 'actions',
      block_id: `change_${r.id}`,
      elements: [
        button('Approve', APPROVE_ACTION, `${r.id}:${r.paramsHash}`, 'primary'),
        button('Reject', REJECT_ACTION, String(r.id), 'danger'),
      ],
    });
  } else if (r.needsReview && !r.reviewedAt) {
    blocks.push({ type: 'actions', block_id: `change_${r.id}`, elements: [button('Mark reviewed', REVIEW_ACTION, String(r.id), 'primary')] });
  }
  const text = `${headline} — ${statusLine(v).replace(/<!date\^[^|]*\|([^>]*)>/g, '$1')}`;
  return { text, blocks };
}

export function rejectReasonModal(r: Pick<ChangeRequest, 'id' | 'title'>): ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_REASON_VIEW,
    title: { type: 'plain_text', text: `Reject change #${r.id}`.slice(0, 24) },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: String(r.id),
    blocks: [
      section(`Rejecting *${escapeMrkdwn(r.title)}*. The reason is shown on the request and kept in the audit log.`),
      {
        type: 'input',
        block_id: REJECT_REASON_FIELD,
        label: { type: 'plain_text', text: 'Why?' },
        element: { type: 'plain_text_input', action_id: REJECT_REASON_FIELD, multiline: true, max_length: 1000 },
      },
    ],
  };
}

/** One line per request for `/change list`. */
export function changeListMessage(requests: ChangeRequest[]): ChatMessage {
  if (requests.length === 0) return { text: 'No open change requests and nothing awaiting review.' };
  const lines = requests.map((r) => {
    const state = r.needsReview && !r.reviewedAt && r.status !== 'pending' ? `${r.status}, needs review` : r.status;
    const tail = r.status === 'pending' ? `, expires ${utc(r.expiresAt)}` : '';
    return `• #${r.id} \`${r.kind}\` ${escapeMrkdwn(r.title)} — ${state} (by ${mention(r.requester)}${tail})`;
  });
  const text = `*Change requests*\n${lines.join('\n')}`;
  return { text, blocks: [section(text)] };
}
