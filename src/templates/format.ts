/** Small text helpers shared by every template. */

/**
 * A person as Slack shows them. Only Slack user ids become mentions: other actors
 * (`firebreak`, `pagerduty:Dana Oncall`, `alert:alertmanager`) are systems or outside people
 * and are written out, since `<@pagerduty:…>` would render as a broken mention.
 */
export function mention(actor: string | null | undefined): string {
  if (!actor) return '_unassigned_';
  if (/^[UW][A-Z0-9]{2,}$/.test(actor)) return `<@${actor}>`;
  if (actor === 'firebreak') return 'Firebreak';
  const m = /^([a-z][a-z0-9_-]*):(.+)$/i.exec(actor);
  return m ? `${m[2]} (${m[1]})` : actor;
}

export const channelLink = (id: string | null | undefined, name?: string | null): string =>
  id ? `<#${id}${name ? `|${name}` : ''}>` : '_no channel_';

const stamp = (d: Date | null | undefined, chars: number): string => (d ? d.toISOString().replace('T', ' ').slice(0, chars) + ' UTC' : '—');

/** UTC time a reader can scan: 2026-03-01 14:05 UTC. */
export const utc = (d: Date | null | undefined): string => stamp(d, 16);

/** To the second, for timelines and post-mortems: 2026-03-01 14:05:09 UTC. */
export const exactTime = (d: Date | null | undefined): string => stamp(d, 19);

/**
 * 1h 05m, 12m 30s, 45s; with `exact`, hours keep their seconds too (1h 05m 09s) for
 * timelines and post-mortems. — when not (yet) measurable.
 */
export function duration(ms: number | null | undefined, exact = false): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m${exact ? ` ${sec}s` : ''}`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${s % 60}s`;
}

export const exactDuration = (ms: number | null | undefined): string => duration(ms, true);

export { button, context, escapeMrkdwn, section, userMrkdwn } from './blocks.js';
