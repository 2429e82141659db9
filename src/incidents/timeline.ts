import type { StoredEvent } from '../events/log.js';
import { ROLE_LABEL, type IncidentRole } from './model.js';

/**
 * The timeline is the incident's slice of the one event log, read back as lines a person
 * can scan. Setup bookkeeping (headline posted, reminders scheduled) is left out; every
 * change people made, every page, alert and pinned message is in.
 */
export interface TimelineEntry {
  at: Date;
  actor: string;
  type: string;
  /** Plain text; people appear through `who` so Slack and Markdown can render them differently. */
  text: string;
  link?: string;
}

const HIDDEN = new Set(['incident.headline_posted', 'incident.postmortem_generated']);

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

/** One line for an event, or undefined for bookkeeping that is not part of the story. */
export function describeEvent(e: StoredEvent, who: (userId: string) => string): string | undefined {
  const p = e.payload;
  if (HIDDEN.has(e.type)) return undefined;
  switch (e.type) {
    case 'incident.declared':
      return `Declared ${str(p.severity)}: ${str(p.title)}${p.summary ? ` — ${str(p.summary)}` : ''}`;
    case 'incident.channel_created':
      return `Channel #${str(p.name)} created`;
    case 'incident.responders_invited':
      return `Invited ${(p.users as string[] | undefined)?.map(who).join(', ') ?? 'responders'}`;
    case 'incident.announced':
      return 'Announced in the incidents channel';
    case 'incident.setup_failed':
      return `Setup steps failed: ${Object.entries((p.errors as Record<string, string>) ?? {}).map(([k, v]) => `${k} (${v})`).join(', ')}`;
    case 'incident.acknowledged':
      return `Acknowledged (${str(p.source)})`;
    case 'incident.role_assigned':
      return `${who(str(p.user))} is ${ROLE_LABEL[p.role as IncidentRole] ?? str(p.role)}${p.previous ? ` (was ${who(str(p.previous))})` : ''}`;
    case 'incident.status_changed':
      return `Status ${str(p.from)} → ${str(p.to)}`;
    case 'incident.severity_changed':
      return `Severity ${str(p.from)} → ${str(p.to)}`;
    case 'incident.update_posted':
      return `Update: ${str(p.text)}`;
    case 'incident.note_added':
      return `Note: ${str(p.text)}`;
    case 'incident.pinned':
      return `Pinned: ${str(p.text) || '(message without text)'}`;
    case 'incident.reminder_sent':
      return `Update reminder #${str(p.missed)} (no update for ${str(p.minutes)} min)`;
    case 'incident.reminder_escalated':
      return `Escalated: ${str(p.missed)} update reminders missed, announced in ${(p.channels as string[] | undefined)?.length ?? 0} channel(s)`;
    case 'incident.resolved':
      return `Resolved${p.summary ? `: ${str(p.summary)}` : ''}`;
    case 'incident.reopened':
      return `Reopened${p.reason ? `: ${str(p.reason)}` : ''}`;
    default: {
      // Other areas (paging, alerts) write their own kinds; payload.text is their line.
      if (typeof p.text === 'string' && p.text) return p.text;
      const detail = Object.entries(p)
        .filter(([, v]) => v !== null && typeof v !== 'object')
        .slice(0, 4)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ');
      return detail ? `${e.type} (${detail})` : e.type;
    }
  }
}

export function timelineEntries(events: StoredEvent[], who: (userId: string) => string): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const e of events) {
    const text = describeEvent(e, who);
    if (text === undefined) continue;
    const link = typeof e.payload.link === 'string' ? e.payload.link : undefined;
    out.push({ at: e.at, actor: e.actor, type: e.type, text, ...(link ? { link } : {}) });
  }
  return out;
}

/** Severity over time, for the post-mortem: the declared severity then every change. */
export function severityHistory(events: StoredEvent[]): { at: Date; severity: string; actor: string }[] {
  const out: { at: Date; severity: string; actor: string }[] = [];
  for (const e of events) {
    if (e.type === 'incident.declared') out.push({ at: e.at, severity: str(e.payload.severity), actor: e.actor });
    if (e.type === 'incident.severity_changed') out.push({ at: e.at, severity: str(e.payload.to), actor: e.actor });
  }
  return out;
}
