/**
 * A follow-up: one action item of an incident, with an owner, a due date and a status, and
 * where it lives in the team's tracker once exported.
 */
export type FollowupStatus = 'open' | 'done' | 'cancelled';
export type FollowupSource = 'note' | 'postmortem' | 'button' | 'command';
export type TrackerKind = 'github' | 'jira';
export type ExportState = 'none' | 'pending' | 'exported' | 'failed';

export interface Followup {
  id: number;
  incidentId: number;
  title: string;
  /** Chat user id when the owner is known; `ownerLabel` keeps what was written when not. */
  ownerUserId: string | null;
  ownerLabel: string | null;
  /** YYYY-MM-DD. */
  dueOn: string | null;
  status: FollowupStatus;
  source: FollowupSource;
  sourceEventId: number | null;
  requestKey: string | null;
  createdBy: string;
  createdAt: Date;
  closedAt: Date | null;
  closedBy: string | null;
  tracker: TrackerKind | null;
  trackerKey: string | null;
  trackerUrl: string | null;
  exportState: ExportState;
  exportError: string | null;
}

export const MAX_TITLE = 300;

/** What `action: <what> [@owner] [due YYYY-MM-DD]` (or `followup add …`) says. */
export interface ActionText {
  title: string;
  ownerUserId?: string;
  /** An owner written as plain `@name` that names no chat user: kept as written. */
  ownerLabel?: string;
  dueOn?: string;
}

/** A note that is an action item: `action:`, `todo:` or `ai:` (as the post-mortem reads them). */
export function actionNoteText(note: string): string | undefined {
  const m = /^\s*(?:action|todo|ai)\s*:\s*(.+)$/is.exec(note);
  return m?.[1];
}

/** A real calendar date written YYYY-MM-DD. */
export function isDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/**
 * Reads `<what> [@owner] [due YYYY-MM-DD]`. The owner is a chat mention (`<@U123|bob>`, or
 * `@U123` as the console types it) or a plain `@name`, which is kept as a label. Words
 * Slack escaped stay as they came; the title is what is left, trimmed.
 */
export function parseActionText(text: string): ActionText | { error: string } {
  let rest = text;
  const out: Partial<ActionText> = {};
  const mention = /<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/.exec(rest) ?? /(?:^|\s)@([UW][A-Z0-9]{2,})(?=\s|$)/.exec(rest);
  if (mention) {
    out.ownerUserId = mention[1]!;
    rest = rest.replace(mention[0], ' ');
  } else {
    const label = /(?:^|\s)@([A-Za-z0-9._-]{1,80})(?=\s|$)/.exec(rest);
    if (label) {
      out.ownerLabel = label[1]!;
      rest = rest.replace(label[0], ' ');
    }
  }
  const due = /(?:\b(?:due|by)\s+)?(\d{4}-\d{2}-\d{2})\b/i.exec(rest);
  if (due) {
    if (!isDate(due[1]!)) return { error: `\`${due[1]}\` is not a date: write the due date as YYYY-MM-DD, e.g. 2026-12-31.` };
    out.dueOn = due[1]!;
    rest = rest.replace(due[0], ' ');
  }
  const title = rest.replace(/\s{2,}/g, ' ').trim();
  if (!title) return { error: 'Say what needs doing: `action: &lt;what&gt; [@owner] [due YYYY-MM-DD]`.' };
  if (title.length > MAX_TITLE) return { error: `That follow-up is ${title.length} characters; keep it under ${MAX_TITLE}.` };
  return { ...out, title };
}

/** Whether it is past its due date at `now` (due dates are whole UTC days: due today is not overdue). */
export function isOverdue(f: Pick<Followup, 'status' | 'dueOn'>, now: Date): boolean {
  return f.status === 'open' && !!f.dueOn && f.dueOn < now.toISOString().slice(0, 10);
}

/** The hidden marker an exported issue carries, so a retried export finds the issue it made. */
export const followupMarker = (prefix: string, id: number): string => `${prefix}-followup-${id}`;

/** `F-12` as people read it. */
export const followupRef = (id: number): string => `F-${id}`;
