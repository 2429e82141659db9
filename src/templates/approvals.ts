import type { Block, ChatMessage, ModalView } from '../chat/surface.js';
import type { ChangeRequest } from '../approvals/model.js';
import type { StoredEvent } from '../events/log.js';
import type { AuditVerdict } from '../audit/verify.js';
import { canonicalJson } from '../events/canonical.js';
import { mention, utc } from './format.js';
import { actions, button, clipPlain, context, escapeMrkdwn, fieldsSection, input, lineSections, messageBlocks, messageText, plain, section, textInput, textSections } from './blocks.js';
import { SLACK_LIMITS } from './slack-limits.js';

export const APPROVE_ACTION = 'change_approve';
export const REJECT_ACTION = 'change_reject';
export const REVIEW_ACTION = 'change_review';
export const BREAK_GLASS_ACTION = 'change_break_glass';
export const BREAK_GLASS_VIEW = 'change_break_glass_reason';
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
  /** The kind's policy lets the requester skip the missing approvals with a reason. */
  breakGlassAllowed: boolean;
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
  // The full parameters are in the audit log under the hash shown next to them.
  return clipPlain(json, 1500);
}

/** The approval request as posted in the approvals channel and approvers' DMs; re-rendered on every change. */
export function renderChangeRequest(v: ChangeRequestView): ChatMessage {
  const r = v.request;
  const breakGlass = r.startedBecause === 'break-glass';
  const headline = `${breakGlass ? ':rotating_light: Break-glass change' : 'Change request'} #${r.id}: ${escapeMrkdwn(r.title)}`;
  const blocks: Block[] = [
    ...textSections(`*${headline}*\n${escapeMrkdwn(v.description)}`, { maxBlocks: 2 }),
    fieldsSection([
      `*Action*\n\`${r.kind}\``,
      `*Requested by*\n${mention(r.requester)}`,
      `*Category / risk*\n${r.category} / ${r.risk ?? 'not assessed'}`,
      `*Approvers*\n${breakGlass ? 'after the fact: ' : `${r.approvalsRequired} of `}${approverList(v)}`,
    ]),
    context(`Parameters (sha256 \`${r.paramsHash.slice(0, 16)}\`): \`${escapeMrkdwn(paramsText(r.params))}\``),
  ];
  if (breakGlass) {
    const review = r.reviewedAt
      ? `:ballot_box_with_check: Reviewed by ${mention(r.reviewedBy)} at ${utc(r.reviewedAt)}${r.reviewNote ? `: ${escapeMrkdwn(r.reviewNote)}` : ''}`
      : ':mag: *Needs review after the fact.*';
    blocks.push(...textSections(`*Reason:* ${escapeMrkdwn(r.breakGlassReason ?? '')}\n${review}`, { maxBlocks: 2 }));
  }
  blocks.push(...textSections(statusLine(v), { maxBlocks: 2 }));
  if (v.voidedApprovers.length && r.status === 'pending') {
    blocks.push(context(`:warning: Earlier approval by ${people(v.voidedApprovers)} no longer counts: the parameters changed after it was given.`));
  }
  if (r.status === 'pending') {
    blocks.push(actions(`change_${r.id}`, [
      button('Approve', APPROVE_ACTION, `${r.id}:${r.paramsHash}`, 'primary'),
      button('Reject', REJECT_ACTION, String(r.id), 'danger'),
      ...(v.breakGlassAllowed ? [button('Break glass', BREAK_GLASS_ACTION, String(r.id))] : []),
    ]));
  } else if (r.needsReview && !r.reviewedAt) {
    blocks.push(actions(`change_${r.id}`, [button('Mark reviewed', REVIEW_ACTION, String(r.id), 'primary')]));
  }
  const text = `${headline} — ${statusLine(v).replace(/<!date\^[^|]*\|([^>]*)>/g, '$1')}`;
  return { text: messageText(text), blocks: messageBlocks(blocks) };
}

export function rejectReasonModal(r: Pick<ChangeRequest, 'id' | 'title'>): ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_REASON_VIEW,
    title: plain(`Reject change #${r.id}`, SLACK_LIMITS.viewTitle),
    submit: plain('Reject', SLACK_LIMITS.viewTitle),
    close: plain('Cancel', SLACK_LIMITS.viewTitle),
    private_metadata: String(r.id),
    blocks: [
      section(`Rejecting *${escapeMrkdwn(r.title)}*. The reason is shown on the request and kept in the audit log.`),
      input(REJECT_REASON_FIELD, 'Why?', textInput(REJECT_REASON_FIELD, { multiline: true, maxLength: 1000 })),
    ],
  };
}

export function breakGlassModal(r: Pick<ChangeRequest, 'id' | 'title'>): ModalView {
  return {
    type: 'modal',
    callback_id: BREAK_GLASS_VIEW,
    title: plain(`Break glass: #${r.id}`, SLACK_LIMITS.viewTitle),
    submit: plain('Run it now', SLACK_LIMITS.viewTitle),
    close: plain('Cancel', SLACK_LIMITS.viewTitle),
    private_metadata: String(r.id),
    blocks: [
      section(`Run *${escapeMrkdwn(r.title)}* now without the approvals it is still missing. The reason is shown on the request, kept in the audit log, and the change is flagged for review afterwards.`),
      input(REJECT_REASON_FIELD, 'Why can this not wait?', textInput(REJECT_REASON_FIELD, { multiline: true, maxLength: 1000 })),
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
  return { text: messageText(text), blocks: messageBlocks([section('*Change requests*'), ...lineSections(lines, { maxBlocks: 45, more: (n) => `_…and ${n} more change requests_` })]) };
}

/** What an audit entry was about, in a few words, from the fields areas commonly record. */
function auditGist(e: StoredEvent): string {
  const p = e.payload;
  const pick = (k: string) => (typeof p[k] === 'string' && p[k] ? String(p[k]) : undefined);
  const parts = [pick('kind'), pick('title'), pick('summary'), pick('reason') && `reason: ${pick('reason')}`].filter(Boolean);
  const gist = parts.join(' — ');
  return clipPlain(gist, 161);
}

/** `/audit log`: newest first, one line each, with the hash so a line can be checked against verify. */
export function auditLogMessage(entries: StoredEvent[], filterText: string): ChatMessage {
  const what = filterText ? ` matching \`${escapeMrkdwn(filterText)}\`` : '';
  if (entries.length === 0) return { text: `No audit entries${what}.` };
  const lines = entries.map((e) => {
    const about = e.incidentId ? `INC-${e.incidentId}` : e.subject ?? '';
    const gist = auditGist(e);
    return `\`#${e.id}\` ${utc(e.at)} \`${e.type}\`${about ? ` ${escapeMrkdwn(about)}` : ''} by ${/^[UW][A-Z0-9]+$/.test(e.actor) ? mention(e.actor) : escapeMrkdwn(e.actor)}${gist ? ` — ${escapeMrkdwn(gist)}` : ''} · \`${e.hash.slice(0, 10)}\``;
  });
  const head = `*Audit log* (${entries.length} most recent${what})`;
  return {
    text: messageText(`${head}\n${lines.join('\n')}`),
    blocks: messageBlocks([section(head), ...lineSections(lines, { maxBlocks: 45, more: (n) => `_…and ${n} more entries: narrow with a filter or a smaller \`--limit\`_` })]),
  };
}

/** `/audit verify` and `firebreak audit verify` say the same thing. */
export function auditVerdictText(v: AuditVerdict): string {
  if (v.ok) {
    return `Audit log intact: ${v.checked} entr${v.checked === 1 ? 'y' : 'ies'} recomputed, every hash and link holds${v.anchors?.length ? `, and it agrees with ${v.anchors.join(', ')}` : ''}. Head: #${v.lastId} ${v.headHash} (keep this to compare later).`;
  }
  const b = v.firstBroken!;
  return `Audit log BROKEN at entry #${b.id}: ${b.reason}. ${v.checked} entr${v.checked === 1 ? 'y' : 'ies'} before it check out.`;
}

export function auditVerdictMessage(v: AuditVerdict): ChatMessage {
  const text = `${v.ok ? ':white_check_mark:' : ':rotating_light:'} ${auditVerdictText(v)}`;
  return { text, blocks: [section(escapeMrkdwn(text))] };
}
