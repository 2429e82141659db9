/**
 * Alertmanager's label matchers and durations, parsed the way Alertmanager 0.25 parses them
 * (pkg/labels/parse.go, config.Matchers), so a routing tree copied from an alertmanager.yml
 * behaves the same here. Regexes run on RE2 (re2js, a port of Go's regexp), as in
 * Alertmanager: same syntax, same `.`/`\s`/case-folding rules, and linear time, so no
 * configured regex can stall ingest.
 */
import { RE2JS } from 're2js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** A compiled regex: whether it matches a whole label value. */
export interface ValueRegex {
  test(value: string): boolean;
}

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled for =~ and !~, anchored at both ends as Alertmanager does. */
  re?: ValueRegex;
}

export type Labels = Record<string, string>;

/**
 * Go 1.22 learned `(?<name>re)`; Alertmanager 0.25 was built with an older Go that rejects it,
 * while re2js accepts it. Scanning outside character classes and `\Q...\E` keeps `[(?<]` valid.
 */
function namedGroupAt(source: string): number {
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      if (source[i + 1] === 'Q') {
        const end = source.indexOf('\\E', i + 2);
        if (end < 0) return -1;
        i = end + 1;
      } else i++;
    } else if (c === '[') {
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') {
        if (source[j] === '\\') j += 2;
        else if (source.startsWith('[:', j) && source.indexOf(':]', j + 2) >= 0) j = source.indexOf(':]', j + 2) + 2;
        else j++;
      }
      i = j;
    } else if (c === '(' && source.startsWith('(?<', i)) return i;
  }
  return -1;
}

// Characters with a meaning in RE2 syntax; a source without them (bar `|`) is literal text.
const REGEX_META = /[\\.+*?()[\]{}^$]/;

/**
 * The shapes most route regexes take, answered with string operations: a regex call on re2js
 * costs ~1 µs, several times a native one, and routing runs them for every alert. Each shape
 * means exactly what RE2 means by it (`.` is any character but a newline); the amtool
 * differential test covers them. Anything else goes to RE2.
 */
function literalShape(source: string): ValueRegex | undefined {
  const parts = source.split('|');
  if (parts.every((p) => !REGEX_META.test(p))) {
    const set = new Set(parts);
    return { test: (v) => set.has(v) };
  }
  if (source === '.*') return { test: (v) => !v.includes('\n') };
  if (source === '.+') return { test: (v) => v !== '' && !v.includes('\n') };
  const inner = source.startsWith('.*') ? source.slice(2) : source;
  const lead = inner !== source;
  const trail = inner.endsWith('.*');
  const lit = trail ? inner.slice(0, -2) : inner;
  if (!(lead || trail) || lit === '' || lit.includes('|') || lit.includes('\n') || REGEX_META.test(lit)) return undefined;
  if (lead && trail) return { test: (v) => v.includes(lit) && !v.includes('\n') };
  if (lead) return { test: (v) => v.endsWith(lit) && !v.includes('\n') };
  return { test: (v) => v.startsWith(lit) && !v.includes('\n') };
}

/** A regex as Alertmanager compiles it: `^(?:re)$` in Go's RE2 syntax. */
export function compileRegex(source: string): ValueRegex {
  const at = namedGroupAt(source);
  if (at >= 0) throw new Error(`"${source}" is not a valid regular expression for Alertmanager 0.25: \`(?<\` at offset ${at} (lookbehind and (?<name>…) groups are not RE2; write (?P<name>…))`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${source})$`);
  } catch (e) {
    throw new Error(`"${source}" is not a valid regular expression (RE2 syntax, as in Alertmanager; no lookaround or backreferences): ${(e as Error).message}`);
  }
  return literalShape(source) ?? re;
}

export function makeMatcher(name: string, op: MatchOp, value: string): Matcher {
  const m: Matcher = { name, op, value };
  if (op === '=~' || op === '!~') {
    try {
      m.re = compileRegex(value);
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

// Go's regexp `\s` is ASCII [\t\n\f\r ]; the value is the shortest run before trailing space.
const MATCHER_RE = /^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*([\s\S]*?)[\t\n\f\r ]*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const FORMS = 'write it like name="value", name!="value", name=~"regex" or name!~"regex"';

/**
 * One matcher in Alertmanager's text form: `severity="critical"`, `env=~"prod|staging"`,
 * `team!=ops`. Inside the value `\"`, `\n` and `\\` are escapes and any other backslash is
 * kept (`"db\d+"` is the regex db\d+); double quotes are only allowed around the whole value;
 * single quotes are ordinary characters (`team='db'` means the value 'db' with its quotes).
 */
export function parseMatcher(text: string): Matcher {
  const bad = (why: string) => new Error(`"${text}" is not a matcher (${why}); ${FORMS}`);
  const m = MATCHER_RE.exec(text);
  if (!m) throw bad('bad format');
  let raw = m[3]!;
  let quoted = false;
  if (raw.startsWith('"')) {
    raw = raw.slice(1);
    quoted = true;
  }
  if (LONE_SURROGATE.test(raw)) throw bad('value is not valid UTF-8');
  let value = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i < raw.length - 1) {
      const n = raw[++i]!;
      value += n === 'n' ? '\n' : n === '"' || n === '\\' ? n : `\\${n}`;
    } else if (c === '"') {
      if (!quoted || i < raw.length - 1) throw bad('unescaped double quote in the value');
      quoted = false;
    } else value += c;
  }
  if (quoted) throw bad('unescaped double quote in the value');
  return makeMatcher(m[1]!, m[2] as MatchOp, value);
}

// Go's unicode.IsSpace (strings.TrimSpace), which differs from String.prototype.trim.
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');

/**
 * One entry of a `matchers:` list, which may hold several matchers: `svc="x", env="prod"`,
 * optionally in braces (`{svc="x",env="prod"}`). Commas inside double quotes do not split; a
 * trailing comma is allowed; an empty entry is no matcher at all (as in Alertmanager).
 */
export function parseMatchers(text: string): Matcher[] {
  let s = text.startsWith('{') ? text.slice(1) : text;
  if (s.endsWith('}')) s = s.slice(0, -1);
  const tokens: string[] = [];
  let token = '';
  let inQuotes = false;
  let escaped = false;
  for (const c of s) {
    if (c === ',') {
      if (!inQuotes) {
        tokens.push(token);
        token = '';
        continue;
      }
      // A comma inside quotes leaves a pending backslash pending, as Alertmanager's scanner does.
    } else if (c === '"') {
      if (!escaped) inQuotes = !inQuotes;
      else escaped = false;
    } else if (c === '\\') escaped = !escaped;
    else escaped = false;
    token += c;
  }
  const last = token.replace(GO_TRIM, '');
  if (last !== '') tokens.push(last);
  return tokens.map(parseMatcher);
}

/**
 * The matchers of a route or one side of an inhibit rule: the legacy `match` (equality) and
 * `match_re` (regex) maps, then every `matchers` entry, all of which must match.
 */
export function matchersOf(match: Record<string, string> | undefined, matchRe: Record<string, string> | undefined, list: string[] | undefined): Matcher[] {
  return [
    ...Object.entries(match ?? {}).map(([name, value]) => makeMatcher(name, '=', value)),
    ...Object.entries(matchRe ?? {}).map(([name, value]) => makeMatcher(name, '=~', value)),
    ...(list ?? []).flatMap(parseMatchers),
  ];
}

/**
 * A label given as amtool takes it on its command line: `team=db`, `team="db"` (the quotes
 * are not part of the value), `msg="a, b"`; only `=` makes sense for a label.
 */
export function parseLabelArg(text: string): { name: string; value: string } {
  const m = parseMatcher(text);
  if (m.op !== '=') throw new Error(`"${text}" is not a label: labels are given as name=value or name="value"`);
  return { name: m.name, value: m.value };
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
