/**
 * Silences as Firebreak reasons about them: matchers in Alertmanager's text syntax, the
 * `/alerts silence <matchers> <duration> <comment>` grammar, and which alerts a silence covers.
 * Pure functions, no I/O.
 */
import { makeMatcher, matchesAll, parseDuration, parseMatchers, type Labels, type Matcher } from '../alerts/matchers.js';
import { opOf, toApiMatcher, type ApiMatcher, type SilenceState } from './alertmanager-client.js';

/** A silence mirrored from an Alertmanager (made by Firebreak or elsewhere). */
export interface Silence {
  alertmanager: string;
  id: string;
  matchers: ApiMatcher[];
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
  state: SilenceState;
  /** The Slack user who made it through Firebreak; null when made elsewhere. */
  slackUser: string | null;
  groupId: number | null;
}

/** A matcher as Alertmanager prints it: `name="value"` with `"`, `\` and newlines escaped. */
export function matcherText(m: { name: string; op: Matcher['op']; value: string }): string {
  const v = m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${m.name}${m.op}"${v}"`;
}

export const apiMatcherText = (m: ApiMatcher): string => matcherText({ name: m.name, op: opOf(m), value: m.value });

export function compileApiMatchers(ms: ApiMatcher[]): Matcher[] | undefined {
  try {
    return ms.map((m) => makeMatcher(m.name, opOf(m), m.value));
  } catch {
    // A regex Firebreak's RE2 port rejects: treat the silence as matching nothing here.
    return undefined;
  }
}

export function silenceCovers(s: Pick<Silence, 'matchers'>, labels: Labels): boolean {
  const ms = compileApiMatchers(s.matchers);
  return !!ms && ms.length > 0 && matchesAll(ms, labels);
}

/** Whether the silence is in force at `now` (Alertmanager's `active`, judged on our clock). */
export const inForce = (s: Pick<Silence, 'state' | 'startsAt' | 'endsAt'>, now: Date): boolean =>
  s.state !== 'expired' && s.startsAt <= now && s.endsAt > now;

/**
 * Matchers typed in a modal or a command: one or more per line or comma-separated, with or
 * without braces. Errors are the matcher parser's own (Alertmanager's rules and wording).
 */
export function parseMatcherLines(text: string): Matcher[] {
  const out: Matcher[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t) out.push(...parseMatchers(t));
  }
  if (out.length === 0) throw new Error('at least one matcher is needed, e.g. alertname="DiskFull"');
  return out;
}

export const toApi = (ms: Matcher[]): ApiMatcher[] => ms.map(toApiMatcher);

/** A silence's length: a positive Alertmanager duration no longer than `maxMs`. */
export function parseSilenceDuration(text: string, maxMs: number): number {
  const t = text.trim();
  if (/^-/.test(t)) throw new Error(`"${t}" is negative; a silence lasts a positive time such as 30m, 2h or 1d`);
  const ms = parseDuration(t);
  if (ms <= 0) throw new Error(`"${t}" is zero; a silence lasts a positive time such as 30m, 2h or 1d`);
  if (ms > maxMs) throw new Error(`"${t}" is longer than the longest silence allowed here (${Math.round(maxMs / 3_600_000)}h, alerts.silences.maxDuration)`);
  return ms;
}

const DURATION_WORD = /^-?(?:\d+(?:y|w|d|h|m|s|ms))+$/;

/** Splits text into words, keeping double-quoted runs (spaces included) inside a word. */
function words(text: string): { word: string; end: number }[] {
  const out: { word: string; end: number }[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let word = '';
    let quoted = false;
    let braces = 0;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (!quoted && braces === 0 && /\s/.test(c)) break;
      if (c === '\\' && quoted && i + 1 < text.length) {
        word += c + text[++i];
        continue;
      }
      if (c === '"') quoted = !quoted;
      else if (!quoted && c === '{') braces++;
      else if (!quoted && c === '}') braces = Math.max(0, braces - 1);
      word += c;
    }
    out.push({ word, end: i });
  }
  return out;
}

export interface SilenceArgs {
  matchers: Matcher[];
  durationMs: number;
  comment: string;
}

/**
 * `<matchers> <duration> <comment>`: matchers (`alertname=DiskFull team="db"`, or
 * `{alertname="DiskFull", team="db"}`) up to the first word that is a duration, then the
 * duration, then the comment, which is required.
 */
export function parseSilenceArgs(text: string, maxMs: number): SilenceArgs {
  const ws = words(text.trim());
  const at = ws.findIndex((w) => DURATION_WORD.test(w.word));
  if (at < 0) throw new Error('give a duration after the matchers, e.g. `alertname="DiskFull" 2h disk is being replaced`');
  if (at === 0) throw new Error('give at least one matcher before the duration, e.g. `alertname="DiskFull" 2h disk is being replaced`');
  const matchers = ws.slice(0, at).flatMap((w) => parseMatchers(w.word));
  if (matchers.length === 0) throw new Error('at least one matcher is needed, e.g. alertname="DiskFull"');
  const durationMs = parseSilenceDuration(ws[at]!.word, maxMs);
  const comment = text.trim().slice(ws[at]!.end).trim();
  if (!comment) throw new Error('say why after the duration (a comment is required), e.g. `alertname="DiskFull" 2h disk is being replaced`');
  return { matchers, durationMs, comment };
}

/** Matchers a group's modal starts with: the labels every alert of the group shares. */
export function commonLabels(alerts: { labels: Labels }[]): Labels {
  if (alerts.length === 0) return {};
  const out: Labels = { ...alerts[0]!.labels };
  for (const a of alerts.slice(1)) for (const k of Object.keys(out)) if (a.labels[k] !== out[k]) delete out[k];
  return out;
}

/**
 * The start Firebreak sends for a silence that starts now. Alertmanager moves a start in its
 * past to its own now, but keeps one in its future `pending`: a minute early, so a Firebreak
 * clock slightly ahead of Alertmanager's cannot leave a "silence now" not silencing.
 */
export const startNow = (now: Date): Date => new Date(now.getTime() - 60_000);
