import type { ChatMessage } from '../chat/surface.js';
import type { DurationStats, IncidentStats } from '../incidents/stats.js';
import { duration, utc } from './format.js';
import { context, escapeMrkdwn, header, messageText, section } from './blocks.js';

/** 45s, 12m 30s, 3h 05m, 4d 6h: the long ones (follow-ups close in days) in days. */
export function longDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 2 * 86_400_000) return duration(ms);
  const h = Math.round(ms / 3_600_000);
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const dist = (name: string, d: DurationStats): string =>
  d.count === 0 ? `${name} —` : `${name} median *${longDuration(d.medianMs)}* · p90 ${longDuration(d.p90Ms)} · max ${longDuration(d.maxMs)} (${d.count})`;

/** The ephemeral answer to `/incident stats [period]`. */
export function statsMessage(s: IncidentStats): ChatMessage {
  const title = `Incident stats, last ${s.period.label}`;
  const range = `Incidents declared ${utc(s.from)} → ${utc(s.to)}. Follow-ups: open and overdue now, time to close for those done in the period.`;
  const lines: string[] = [];
  for (const t of s.times) {
    const f = s.followups.find((x) => x.severity === t.severity);
    if (t.incidents === 0 && (!f || (f.open === 0 && f.closed === 0))) continue;
    const follow = f ? `Follow-ups: ${f.open} open · ${f.overdue} overdue · ${f.closed} done, median to close ${longDuration(f.medianCloseMs)}` : '';
    lines.push(`*${t.severity}* · ${t.incidents} incident${t.incidents === 1 ? '' : 's'}\n${dist('MTTA', t.mtta)}\n${dist('MTTM', t.mttm)}\n${dist('MTTR', t.mttr)}\n${follow}`);
  }
  const body = lines.length ? lines : [`No incidents declared and no follow-ups in the last ${escapeMrkdwn(s.period.label)}.`];
  const text = `${title}\n${body.join('\n\n')}`;
  return { text: messageText(text), blocks: [header(title), context(range), ...body.map((l) => section(l))] };
}

/** A period that is not `30d` / `12w`. The word typed is outside text: escaped. */
export function badPeriodMessage(word: string): string {
  return `\`${escapeMrkdwn(word)}\` is not a period I can read. Use days or weeks, e.g. \`/incident stats 30d\`, \`/incident stats 12w\` (at most 3650 days; default 30d).`;
}
