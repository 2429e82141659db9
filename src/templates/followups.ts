import type { ChatMessage, ModalView } from '../chat/surface.js';
import type { Followup } from '../followups/model.js';
import { followupRef, isOverdue } from '../followups/model.js';
import { actions, button, context, decodeSlackText, escapeMrkdwn, input, lineSections, link, messageText, plain, section, textInput, userMrkdwn } from './blocks.js';
import { SLACK_LIMITS } from './slack-limits.js';
import { mention } from './format.js';

/** The Add follow-up button (post-mortem notice) and the modal it opens. */
export const ADD_FOLLOWUP_ACTION = 'followup.add';
export const ADD_FOLLOWUP_VIEW = 'followup.add';

export const addFollowupButton = (incidentId: number) => button('Add follow-up', ADD_FOLLOWUP_ACTION, String(incidentId));

/** What the listing needs to know about the incident a follow-up belongs to. */
export interface IncidentRef {
  id: number;
  title: string;
  severity: string;
}

const STATUS_ICON: Record<Followup['status'], string> = { open: ':white_circle: open', done: ':white_check_mark: done', cancelled: ':heavy_minus_sign: cancelled' };

/** The owner as chat shows them: a mention, or what was written when it maps to nobody. */
export function ownerText(f: Pick<Followup, 'ownerUserId' | 'ownerLabel'>): string {
  if (f.ownerUserId) return mention(f.ownerUserId);
  if (f.ownerLabel) return `@${escapeMrkdwn(f.ownerLabel)} _(not linked to a chat user)_`;
  return '_no owner_';
}

function trackerText(f: Followup): string {
  if (f.exportState === 'exported' && f.trackerKey) return link(f.trackerUrl, f.trackerKey);
  if (f.exportState === 'pending') return `_export to ${f.tracker ?? 'the tracker'} pending${f.exportError ? `: ${escapeMrkdwn(f.exportError)}` : ''}_`;
  if (f.exportState === 'failed') return `:warning: _export to ${f.tracker ?? 'the tracker'} failed: ${escapeMrkdwn(f.exportError ?? 'unknown error')}; retried at the next poll_`;
  return '';
}

/** One line per follow-up: status, owner, due date (overdue marked), tracker link when exported. */
export function followupLine(f: Followup, now: Date, incident?: IncidentRef): string {
  const due = f.dueOn ? (isOverdue(f, now) ? `:warning: *overdue* (due ${f.dueOn})` : `due ${f.dueOn}`) : 'no due date';
  const tracker = trackerText(f);
  return [
    `• *${followupRef(f.id)}* ${userMrkdwn(f.title)}${incident ? ` (INC-${incident.id})` : ''}`,
    `${STATUS_ICON[f.status]} · ${ownerText(f)} · ${due}${tracker ? ` · ${tracker}` : ''}`,
  ].join('\n    ');
}

export function incidentFollowupsMessage(incident: IncidentRef, list: Followup[], now: Date): ChatMessage {
  const head = `*Follow-ups of INC-${incident.id}* ${escapeMrkdwn(incident.title)}`;
  if (list.length === 0) {
    const none = `${head}\nNone yet. Add one with \`/incident followup add <what> [@owner] [due YYYY-MM-DD]\`, a note \`action: …\`, or the Add follow-up button.`;
    return { text: messageText(`Follow-ups of INC-${incident.id}: none`), blocks: [section(none.replace('<what>', '&lt;what&gt;')), actions('followups', [addFollowupButton(incident.id)])] };
  }
  const open = list.filter((f) => f.status === 'open').length;
  return {
    text: messageText(`Follow-ups of INC-${incident.id}: ${open} open of ${list.length}`),
    blocks: [section(`${head} — ${open} open of ${list.length}`), ...lineSections(list.map((f) => followupLine(f, now)), { maxBlocks: 30 }), actions('followups', [addFollowupButton(incident.id)])],
  };
}

export function mineMessage(list: Followup[], now: Date, incidents: Map<number, IncidentRef>): ChatMessage {
  if (list.length === 0) return { text: 'You have no open follow-ups.', blocks: [section('You have no open follow-ups. :tada:')] };
  const overdue = list.filter((f) => isOverdue(f, now)).length;
  const head = `*Your open follow-ups:* ${list.length}${overdue ? `, ${overdue} overdue` : ''}. Mark one done with \`/followups done <id>\`.`.replace('<id>', '&lt;id&gt;');
  return {
    text: messageText(`Your open follow-ups: ${list.length}${overdue ? `, ${overdue} overdue` : ''}`),
    blocks: [section(head), ...lineSections(list.map((f) => followupLine(f, now, incidents.get(f.incidentId))), { maxBlocks: 30 })],
  };
}

/** Anything the person should know about a follow-up just recorded. */
export interface RecordedNotes {
  /** Export to this tracker is queued. */
  tracker?: string;
  /** The owner has no tracker login mapped: the issue goes unassigned. */
  noTrackerLogin?: boolean;
}

export function recordedReply(f: Followup, created: boolean, notes: RecordedNotes = {}): ChatMessage {
  const lines = [`${created ? ':memo: Recorded follow-up' : 'That follow-up was already recorded:'} *${followupRef(f.id)}* on INC-${f.incidentId}: ${userMrkdwn(f.title)} · ${ownerText(f)} · ${f.dueOn ? `due ${f.dueOn}` : 'no due date'}`];
  if (f.ownerLabel && !f.ownerUserId) {
    lines.push(`:warning: The owner \`@${escapeMrkdwn(f.ownerLabel)}\` is not linked to a chat user, so nobody is reminded or assigned. It is kept as written; pick the person from @-autocomplete next time (or use the Add follow-up button).`);
  }
  if (notes.tracker) lines.push(`It will be exported to ${notes.tracker}${notes.noTrackerLogin && f.ownerUserId ? ` unassigned: ${mention(f.ownerUserId)} has no ${notes.tracker} user in the follow-ups configuration` : ''}; \`/incident followups ${f.incidentId}\` shows the link.`);
  return { text: messageText(`Follow-up ${followupRef(f.id)}: ${decodeSlackText(f.title)}`), blocks: lines.map((l) => section(l)) };
}

export const closedReply = (f: Followup): string => `:white_check_mark: *${followupRef(f.id)}* is done: ${userMrkdwn(f.title)}${f.trackerKey ? ` (the ${f.tracker} issue ${link(f.trackerUrl, f.trackerKey)} stays as it is; close it there too)` : ''}.`;

export const noSuchFollowup = (word: string): string => `There is no follow-up \`${escapeMrkdwn(word)}\`. \`/followups mine\` lists yours, \`/incident followups <id>\` an incident's.`.replace('<id>', '&lt;id&gt;');

/** The Add follow-up modal: what, owner (a chat user), due date. */
export function addFollowupModal(incident: IncidentRef, channelId?: string): ModalView {
  return {
    type: 'modal',
    callback_id: ADD_FOLLOWUP_VIEW,
    private_metadata: JSON.stringify({ incidentId: incident.id, ...(channelId ? { channelId } : {}) }),
    title: plain(`Follow-up INC-${incident.id}`, SLACK_LIMITS.viewTitle),
    submit: plain('Add', SLACK_LIMITS.viewTitle),
    close: plain('Cancel', SLACK_LIMITS.viewTitle),
    blocks: [
      context(`${escapeMrkdwn(incident.title)} · ${incident.severity}`),
      input('title', 'What needs doing', textInput('value', { maxLength: 300 })),
      input('owner', 'Owner', { type: 'users_select', action_id: 'value' }, { optional: true }),
      input('due', 'Due date', { type: 'datepicker', action_id: 'value' }, { optional: true }),
    ],
  };
}

/** The tracker issue: title and a Markdown body that links back to the incident. */
export function issueText(f: Followup, incident: IncidentRef, ownerName: string | undefined, publicUrl: string): { title: string; body: string } {
  const plainTitle = decodeSlackText(f.title).replace(/<@([A-Z0-9]+)(?:\|([^>]+))?>/g, (_m, id: string, name?: string) => `@${name ?? id}`);
  return {
    title: plainTitle,
    body: [
      `Follow-up ${followupRef(f.id)} from incident INC-${incident.id} (${incident.severity}): ${decodeSlackText(incident.title)}`,
      `Owner: ${ownerName ?? (f.ownerLabel ? `@${f.ownerLabel}` : 'none')}`,
      `Due: ${f.dueOn ?? 'no date'}`,
      `Recorded by Firebreak (${publicUrl}); closing this issue marks the follow-up done.`,
    ].join('\n'),
  };
}
