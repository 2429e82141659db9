import type { Block, ChatMessage } from '../chat/surface.js';
import type { IncidentBrief, OpenFollowup } from '../followups/overdue-store.js';
import { duration, mention } from './format.js';
import { context, escapeMrkdwn, header, lineSections, link, messageBlocks, messageText, section } from './blocks.js';

const daysBetween = (from: string, to: string): number => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
const isOverdue = (f: OpenFollowup, today: string): boolean => f.dueOn !== null && f.dueOn < today;
const incidentRef = (id: number, severity: string, title: string): string => `*INC-${id}* [${severity}] ${escapeMrkdwn(title)}`;

/** Who owns it: their mention when mapped to a chat user, what was written otherwise (escaped). */
function owner(f: OpenFollowup): string {
  if (f.ownerUserId) return mention(f.ownerUserId);
  return f.ownerLabel ? `${escapeMrkdwn(f.ownerLabel)} _(not in Slack)_` : '_no owner_';
}

function followupLine(f: OpenFollowup, today: string): string {
  const title = f.trackerUrl ? link(f.trackerUrl, f.title) : escapeMrkdwn(f.title);
  const due = f.dueOn ? (isOverdue(f, today) ? `:warning: overdue ${daysBetween(f.dueOn, today)}d (due ${f.dueOn})` : `due ${f.dueOn}`) : 'no due date';
  return `• ${title} — ${owner(f)} · ${due}`;
}

/** The weekly DM to a follow-up's owner while it stays open past its due date. */
export function followupReminderMessage(f: OpenFollowup, today: string): ChatMessage {
  const late = f.dueOn ? daysBetween(f.dueOn, today) : 0;
  const title = f.trackerUrl ? link(f.trackerUrl, f.title) : escapeMrkdwn(f.title);
  const body = `:alarm_clock: *Your follow-up is overdue* (due ${f.dueOn ?? '—'}, ${late} day${late === 1 ? '' : 's'} ago)\n>${title}\nFrom ${incidentRef(f.incidentId, f.severity, f.incidentTitle)}`;
  return {
    text: messageText(`Overdue follow-up from INC-${f.incidentId} (due ${f.dueOn ?? '—'}): ${escapeMrkdwn(f.title)}`),
    blocks: [section(body), context('Close it in the tracker or with `/followups mine`. You get this once a week while it stays open and overdue.')],
  };
}

export interface WeeklyDigest {
  /** Monday of the week, yyyy-mm-dd. */
  week: string;
  /** The slot's date: what "overdue" is judged against. */
  today: string;
  open: OpenFollowup[];
  /** Incidents declared in the seven days before the slot. */
  lastWeek: IncidentBrief[];
}

/** The weekly digest in the incidents channel. */
export function weeklyDigestMessage(d: WeeklyDigest): ChatMessage {
  const overdue = d.open.filter((f) => isOverdue(f, d.today));
  const blocks: Block[] = [header(`Weekly follow-ups digest · week of ${d.week}`)];
  const summary = `*${d.open.length}* open follow-up${d.open.length === 1 ? '' : 's'}, *${overdue.length}* overdue.`;
  blocks.push(section(summary));

  // Open follow-ups by incident; within an incident the store orders them by owner, then due date.
  const lines: string[] = [];
  let current: number | undefined;
  for (const f of d.open) {
    if (f.incidentId !== current) {
      current = f.incidentId;
      lines.push(incidentRef(f.incidentId, f.severity, f.incidentTitle));
    }
    lines.push(followupLine(f, d.today));
  }
  blocks.push(...lineSections(lines, { maxBlocks: 20, more: (n) => `_…and ${n} more lines not shown_` }));

  const unreminded = overdue.filter((f) => !f.ownerUserId);
  if (unreminded.length) {
    blocks.push(section(`*Overdue with no owner in Slack* (nobody was reminded; give them an owner):`));
    blocks.push(...lineSections(unreminded.map((f) => `• INC-${f.incidentId} · ${escapeMrkdwn(f.title)} — ${owner(f)}`), { maxBlocks: 5 }));
  }

  const bySeverity = new Map<string, number>();
  for (const i of d.lastWeek) bySeverity.set(i.severity, (bySeverity.get(i.severity) ?? 0) + 1);
  const resolved = d.lastWeek.filter((i) => i.resolvedAt).length;
  const counts = [...bySeverity.entries()].sort().map(([s, n]) => `${s} ${n}`).join(' · ');
  blocks.push(section(d.lastWeek.length
    ? `*Last week: ${d.lastWeek.length} incident${d.lastWeek.length === 1 ? '' : 's'} declared* (${counts}), ${resolved} resolved.`
    : '*Last week:* no incidents declared.'));
  blocks.push(...lineSections(d.lastWeek.map((i) => `• ${incidentRef(i.id, i.severity, i.title)} — ${
    i.resolvedAt ? `resolved in ${duration(i.resolvedAt.getTime() - i.declaredAt.getTime())}` : `still open (${escapeMrkdwn(i.status)})`}`), { maxBlocks: 10 }));

  const text = `Weekly follow-ups digest (week of ${d.week}): ${d.open.length} open, ${overdue.length} overdue; ${d.lastWeek.length} incident(s) declared last week.`;
  return { text: messageText(text), blocks: messageBlocks(blocks) };
}
