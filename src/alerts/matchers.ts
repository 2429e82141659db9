/**
 * Alertmanager's label matchers and durations, parsed the way Alertmanager parses them, so a
 * routing tree copied from an alertmanager.yml behaves the same here.
 */
export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled for =~ and !~, anchored at both ends as Alertmanager does. */
  re?: RegExp;
}

export type Labels = Record<string, string>;

export function makeMatcher(name: string, op: MatchOp, value: string): Matcher {
  const m: Matcher = { name, op, value };
  if (op === '=~' || op === '!~') {
    try {
      m.re = new RegExp(`^(?:${value})$`, 'su');
    } catch (e) {
      throw new Error(`invalid regular expression in ${name}${op}"${value}": ${(e as Error).message}`);
    }
  }
  return m;
}

/** An absent label matches as the empty string, as in Alertmanager (`foo=""` matches no foo). */
export function matches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.re!.test(v);
    case '!~':
      return !m.re!.test(v);
  }
}

export const matchesAll = (ms: Matcher[], labels: Labels): boolean => ms.every((m) => matches(m, labels));

const MATCHER_RE = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^"'\s,{}]*))\s*$/;

/**
 * One matcher in Alertmanager's text form: `severity="critical"`, `env=~"prod|staging"`,
 * `team!=ops`; braces around it (`{env="x"}`) are accepted too.
 */
export function parseMatcher(text: string): Matcher {
  let t = text.trim();
  if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1);
  const m = MATCHER_RE.exec(t);
  if (!m) throw new Error(`"${text}" is not a matcher; write it like name="value", name!="value", name=~"regex" or name!~"regex"`);
  const raw = m[3] ?? m[4] ?? m[5] ?? '';
  const value = m[5] !== undefined ? raw : raw.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
  return makeMatcher(m[1]!, m[2] as MatchOp, value);
}

/** How a matcher set reads in route and group keys: sorted by label name like Alertmanager. */
export function matchersKey(ms: Matcher[]): string {
  const parts = ms.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).sort();
  return `{${parts.join(',')}}`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Alertmanager/Prometheus durations: `30s`, `5m`, `1h30m`, `1d`, `500ms`, `0s`. */
export function parseDuration(text: string): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m || text.trim() === '') throw new Error(`"${text}" is not a duration; use forms like 30s, 5m, 1h30m, 1d`);
  const units = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
  return units.reduce((sum, u, i) => sum + Number(m[i + 1] ?? 0) * UNIT_MS[u]!, 0);
}

/** Label set as a stable string: used for fingerprints and group keys. */
export function labelsKey(labels: Labels, names?: string[]): string {
  const keys = (names ?? Object.keys(labels)).filter((k) => labels[k] !== undefined && labels[k] !== '').sort();
  return `{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}
