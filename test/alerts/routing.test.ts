/**
 * Routing semantics as tables, mirroring Alertmanager's own tests (dispatch/route_test.go
 * TestRouteMatch, pkg/labels/matcher_test.go, inhibit/inhibit_test.go,
 * timeinterval/timeinterval_test.go) with receivers as channels.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { alertsConfigSchema } from '../../src/alerts/config.js';
import { compileRoutes, groupKey, groupLabels, matchRoutes, type RouteOpts } from '../../src/alerts/routing.js';
import { RE2JS } from 're2js';
import { compileRegex, matchesAll, parseDuration, parseLabelArg, parseMatcher, parseMatchers } from '../../src/alerts/matchers.js';
import { compileInhibitRules, isInhibited } from '../../src/alerts/inhibit.js';
import { buildTimeIntervals, inNamedInterval, routeMuted } from '../../src/alerts/time-intervals.js';

// Alertmanager's TestRouteMatch tree, receivers renamed to channels.
const TREE = `
route:
  channel: notify-def
  routes:
  - match: { owner: team-A }
    channel: notify-A
    routes:
    - match: { env: testing }
      channel: notify-testing
      group_by: ['...']
    - match: { env: production }
      channel: notify-productionA
      group_wait: 1m
      continue: true
    - match_re: { env: "produ.*", job: ".*" }
      channel: notify-productionB
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: [job]
  - match_re: { owner: "team-(B|C)" }
    group_by: [foo, bar]
    group_wait: 2m
    channel: notify-BC
  - match: { group_by: role }
    group_by: [role]
    routes:
    - match: { env: testing }
      channel: notify-testing
      routes:
      - match: { wait: long }
        group_wait: 2m
  - matchers: ['group_by="all"']
    group_by: ['...']
`;

const cfg = alertsConfigSchema.parse(parseYaml(TREE));
const root = compileRoutes(cfg.route, 'alerts');

const DEF = { groupBy: [], groupByAll: false, groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 14_400_000 };
type Expect = Pick<RouteOpts, 'channel' | 'groupBy' | 'groupByAll' | 'groupWaitMs' | 'groupIntervalMs' | 'repeatIntervalMs'>;
const opts = (o: Partial<Expect> & { channel: string }): Expect => ({ ...DEF, ...o });

describe('route tree (Alertmanager TestRouteMatch)', () => {
  const cases: [string, Record<string, string>, Expect[]][] = [
    ['child route by exact label', { owner: 'team-A' }, [opts({ channel: 'notify-A' })]],
    ['unmatched grandchildren fall back to the child', { owner: 'team-A', env: 'unset' }, [opts({ channel: 'notify-A' })]],
    ['regex route with group_by and group_wait', { owner: 'team-C' }, [opts({ channel: 'notify-BC', groupBy: ['foo', 'bar'], groupWaitMs: 120_000 })]],
    ['continue: both production routes take it', { owner: 'team-A', env: 'production' }, [
      opts({ channel: 'notify-productionA', groupWaitMs: 60_000 }),
      opts({ channel: 'notify-productionB', groupBy: ['job'], groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 3_600_000 }),
    ]],
    ['route without its own channel inherits the root one', { group_by: 'role' }, [opts({ channel: 'notify-def', groupBy: ['role'] })]],
    ['grandchild inherits group_by', { env: 'testing', group_by: 'role' }, [opts({ channel: 'notify-testing', groupBy: ['role'] })]],
    ['great-grandchild overrides group_wait only', { env: 'testing', group_by: 'role', wait: 'long' }, [opts({ channel: 'notify-testing', groupBy: ['role'], groupWaitMs: 120_000 })]],
    ['group_by ... groups by every label', { group_by: 'all' }, [opts({ channel: 'notify-def', groupByAll: true })]],
    ['nothing matches: the root route', { owner: 'nobody' }, [opts({ channel: 'notify-def' })]],
    ['regex is anchored: team-Bx is not team-(B|C)', { owner: 'team-Bx' }, [opts({ channel: 'notify-def' })]],
  ];
  it.each(cases)('%s', (_name, labels, expected) => {
    const got = matchRoutes(root, labels).map((r) => {
      const { channel, groupBy, groupByAll, groupWaitMs, groupIntervalMs, repeatIntervalMs } = r.opts;
      return { channel, groupBy, groupByAll, groupWaitMs, groupIntervalMs, repeatIntervalMs };
    });
    expect(got).toEqual(expected);
  });

  it('group keys separate routes and grouping label values, and ignore other labels', () => {
    const [a] = matchRoutes(root, { owner: 'team-C', foo: '1', bar: '2', instance: 'x' });
    const [b] = matchRoutes(root, { owner: 'team-C', foo: '1', bar: '2', instance: 'y' });
    const [c] = matchRoutes(root, { owner: 'team-C', foo: '9', bar: '2' });
    expect(groupKey(a!, { owner: 'team-C', foo: '1', bar: '2', instance: 'x' })).toBe(groupKey(b!, { owner: 'team-C', foo: '1', bar: '2', instance: 'y' }));
    expect(groupKey(c!, { owner: 'team-C', foo: '9', bar: '2' })).not.toBe(groupKey(a!, { owner: 'team-C', foo: '1', bar: '2', instance: 'x' }));
    expect(groupLabels(a!, { owner: 'team-C', foo: '1', bar: '2', instance: 'x' })).toEqual({ foo: '1', bar: '2' });
    const prod = matchRoutes(root, { owner: 'team-A', env: 'production', job: 'api' });
    expect(new Set(prod.map((r) => groupKey(r, { owner: 'team-A', env: 'production', job: 'api' }))).size).toBe(2);
  });

  it('siblings with the same matchers (continue) keep separate groups, as Alertmanager route IDs do', () => {
    const c = alertsConfigSchema.parse({ route: { routes: [
      { matchers: ['team="pay"'], group_by: ['alertname'], continue: true, channel: 'pay' },
      { matchers: ['team="pay"'], group_by: ['alertname'], channel: 'pay-oncall' },
    ] } });
    const r = compileRoutes(c.route, 'alerts');
    const labels = { team: 'pay', alertname: 'Slow' };
    const hit = matchRoutes(r, labels);
    expect(hit.map((x) => x.opts.channel)).toEqual(['pay', 'pay-oncall']);
    expect(new Set(hit.map((x) => groupKey(x, labels))).size).toBe(2);
  });

  it('mentions and auto_declare are inherited; null turns auto_declare off below', () => {
    const c = alertsConfigSchema.parse(parseYaml(`
route:
  channel: ops
  mentions: ['@here']
  auto_declare: { severity: P2 }
  routes:
  - matchers: ['team="db"']
    channel: db
  - matchers: ['team="web"']
    auto_declare: null
`));
    const r = compileRoutes(c.route, 'alerts');
    const [db] = matchRoutes(r, { team: 'db' });
    const [web] = matchRoutes(r, { team: 'web' });
    expect(db!.opts).toMatchObject({ channel: 'db', mentions: ['@here'], autoDeclare: { severity: 'P2' } });
    expect(web!.opts).toMatchObject({ channel: 'ops', autoDeclare: null });
  });
});

describe('matchers (Alertmanager pkg/labels)', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['foo="bar"', { foo: 'bar' }, true],
    ['foo="bar"', { foo: 'baz' }, false],
    ['foo!="bar"', { foo: 'bar' }, false],
    ['foo!="bar"', { foo: 'baz' }, true],
    ['foo!="bar"', {}, true],
    ['foo=""', {}, true],
    ['foo=""', { foo: 'x' }, false],
    ['foo=~"ba.*"', { foo: 'bar' }, true],
    ['foo=~"ba"', { foo: 'bar' }, false],
    ['foo=~"a"', { foo: 'bar' }, false],
    ['foo=~".*"', {}, true],
    ['foo!~"ba.*"', { foo: 'bar' }, false],
    ['foo!~"ba.*"', { foo: 'qux' }, true],
    ['foo!~"ba.*"', {}, true],
    ['foo=~"(?:a|b)"', { foo: 'b' }, true],
    ['{foo="bar"}', { foo: 'bar' }, true],
    ['foo=bar', { foo: 'bar' }, true],
    ['foo = "with space"', { foo: 'with space' }, true],
    ['foo="quo\\"te"', { foo: 'quo"te' }, true],
    // Alertmanager 0.25's parser (pkg/labels/parse.go), item by item from issue 23.
    ['host=~"db\\d+"', { host: 'db12' }, true],
    ['host=~"db\\d+"', { host: 'dbdd' }, false],
    ['x="a\\qb"', { x: 'a\\qb' }, true],
    ['x="a\\\\b"', { x: 'a\\b' }, true],
    ['x="a\\nb"', { x: 'a\nb' }, true],
    ['x=a\\nb', { x: 'a\nb' }, true],
    ['x=ends\\', { x: 'ends\\' }, true],
    ["team='db'", { team: "'db'" }, true],
    ["team='db'", { team: 'db' }, false],
    ['svc="x", env="prod"', { svc: 'x', env: 'prod' }, true],
    ['svc="x", env="prod"', { svc: 'x', env: 'dev' }, false],
    ['{svc="x",env="prod",}', { svc: 'x', env: 'prod' }, true],
    ['msg="a, b"', { msg: 'a, b' }, true],
    ['msg="a \\", b"', { msg: 'a ", b' }, true],
    ['job:rate="1"', { 'job:rate': '1' }, true],
    ['x=a b ', { x: 'a b' }, true],
    ['x="a\u00a0"\u00a0', { x: 'a\u00a0' }, true],
    ['', {}, true],
    // RE2, as Go's regexp: `.` stops at newlines, `\s` is ASCII, (?i) and POSIX classes work.
    ['y=~".*"', { y: 'a\nb' }, false],
    ['y=~"(?s).*"', { y: 'a\nb' }, true],
    ['s=~"a\\sb"', { s: 'a b' }, true],
    ['s=~"a\\sb"', { s: 'a\u00a0b' }, false],
    ['s=~"a\\sb"', { s: 'a\u000bb' }, false],
    ['sev=~"(?i)critical"', { sev: 'CRITICAL' }, true],
    ['w=~"[[:alpha:]]+"', { w: 'abcXYZ' }, true],
    ['w=~"[[:alpha:]]+"', { w: 'é' }, false],
    ['e=~"."', { e: '😀' }, true],
    ['e=~".."', { e: '😀' }, false],
    ['a=~"x|"', { a: '' }, true],
  ];
  it.each(cases)('%s against %j is %s', (text, labels, want) => {
    expect(matchesAll(parseMatchers(text), labels)).toBe(want);
  });

  it.each([
    ['foo'], ['foo=~"("'], ['1foo="x"'], ['foo=="x"'], ['foo="x'], ['foo=x"'], ['foo="a"b"'], ['a="b",,c="d"'], ['a="\\"'], ['x="ends\\'], [' {a="b"}'],
    ['a=~"(?!x)"'], ['a=~"(?=x)"'], ['a=~"(?<=x)y"'], ['a=~"(?<n>x)"'], ['a=~"(a)\\\\1"'], ['a=~"x{1001}"'],
  ])('rejects %s with a message', (text) => {
    expect(() => parseMatchers(text)).toThrow(/not a matcher|regular expression/);
  });

  it('says why a lookahead is refused', () => {
    expect(() => parseMatchers('a=~"(?!x)"')).toThrow(/RE2 syntax, as in Alertmanager; no lookaround/);
    expect(() => parseMatchers('a=~"(?<n>x)"')).toThrow(/write \(\?P<name>…\)/);
    expect(parseMatchers('a=~"[(?<]"')[0]!.value).toBe('[(?<]');
  });

  it('keeps the braces for a single matcher (amtool arguments), as ParseMatcher does', () => {
    expect(() => parseMatcher('{foo="bar"}')).toThrow(/not a matcher/);
  });

  it('every regex runs in linear time: a classic catastrophic pattern stays fast', () => {
    const [m] = parseMatchers('x=~"(a+)+b"');
    const input = 'a'.repeat(5_000);
    expect(matchesAll([m!], { x: input })).toBe(false);
    // Native backtracking would never finish on this input; RE2 answers at all, which is the test.
    expect(matchesAll([m!], { x: `${input}b` })).toBe(true);
  });

  it('answers the common regex shapes without RE2 exactly as RE2 does', () => {
    const sources = ['prod|staging', 'db', '', '|a', 'a\nb|x', '.*', '.+', 'db.*', '.*db', '.*db.*', '.*-canary', 'say .*', '.*😀.*', 'a.b', '.*\nb', '(?i)db.*'];
    const values = ['', 'db', 'db7', 'xdb', 'xdbx', 'db\n', '\ndb', 'x\ndb\ny', 'prod', 'staging', 'prod|staging', 'a\nb', 'a', 'x', 'svc-canary', 'svc-canary\n', 'say hi', '😀', 'a😀b', 'DB7', 'axb', 'a\nb'];
    const disagree = sources.flatMap((src) => {
      const re2 = RE2JS.compile(`^(?:${src})$`);
      const ours = compileRegex(src);
      return values.filter((v) => ours.test(v) !== re2.test(v)).map((v) => ({ src, v }));
    });
    expect(disagree).toEqual([]);
    // The shapes really take the string path (an RE2 program is an RE2JS instance).
    expect(compileRegex('prod|staging')).not.toBeInstanceOf(RE2JS);
    expect(compileRegex('.*-canary')).not.toBeInstanceOf(RE2JS);
    expect(compileRegex('db\\d+')).toBeInstanceOf(RE2JS);
  });

  it.each([
    ['team="db"', 'team', 'db'],
    ['team=db', 'team', 'db'],
    ["team='db'", 'team', "'db'"],
    ['msg="a, b"', 'msg', 'a, b'],
    ['msg="say \\"hi\\""', 'msg', 'say "hi"'],
    ['empty=', 'empty', ''],
  ])('label argument %s is %s=%j (amtool form)', (arg, name, value) => {
    expect(parseLabelArg(arg)).toEqual({ name, value });
  });
  it.each([['team!=db'], ['team=~"d.*"'], ['team']])('label argument %s is refused', (arg) => {
    expect(() => parseLabelArg(arg)).toThrow(/not a (label|matcher)/);
  });
});

describe('route matchers from one list entry and legacy maps', () => {
  it('routes by several matchers in one entry, and by match/match_re', () => {
    const c = alertsConfigSchema.parse(parseYaml(`
route:
  channel: def
  routes:
  - matchers: ['svc="x", env="prod"']
    channel: both
  - match: { team: db }
    match_re: { host: 'db\\d+' }
    channel: legacy
`));
    const r = compileRoutes(c.route, 'def');
    expect(matchRoutes(r, { svc: 'x', env: 'prod' }).map((x) => x.opts.channel)).toEqual(['both']);
    expect(matchRoutes(r, { svc: 'x' }).map((x) => x.opts.channel)).toEqual(['def']);
    expect(matchRoutes(r, { team: 'db', host: 'db7' }).map((x) => x.opts.channel)).toEqual(['legacy']);
    expect(matchRoutes(r, { team: 'db', host: 'web7' }).map((x) => x.opts.channel)).toEqual(['def']);
  });

  it('inhibit rules take several matchers per entry too', () => {
    const [rule] = compileInhibitRules([{ source_matchers: ['alertname="Down", severity="critical"'], target_matchers: ['severity="warning"'], equal: [] }]);
    expect(rule!.source.map((m) => m.name)).toEqual(['alertname', 'severity']);
  });

  it('inhibit rules accept Alertmanager\'s legacy source_match/target_match_re forms', () => {
    const c = alertsConfigSchema.parse(parseYaml(`
inhibit_rules:
- source_match: { alertname: Down }
  target_match_re: { severity: 'warn.*|info' }
  equal: [dc]
`));
    const rules = compileInhibitRules(c.inhibit_rules);
    const src = { fingerprint: 's', labels: { alertname: 'Down', dc: 'x' } };
    expect(isInhibited(rules, { fingerprint: 't', labels: { severity: 'warning', dc: 'x' } }, [src])).toBe(true);
    expect(isInhibited(rules, { fingerprint: 't', labels: { severity: 'critical', dc: 'x' } }, [src])).toBe(false);
  });

  it('an inhibit rule with an empty side is refused', () => {
    const r = alertsConfigSchema.safeParse({ inhibit_rules: [{ source_matchers: [''], target_match: { a: 'b' } }] });
    expect(r.success).toBe(false);
    expect(r.error!.message).toContain('at least one matcher for the inhibiting alert');
  });
});

describe('durations', () => {
  it.each([['30s', 30_000], ['5m', 300_000], ['1h30m', 5_400_000], ['1d', 86_400_000], ['500ms', 500], ['0s', 0], ['1w', 604_800_000]])('duration %s = %d ms', (t, ms) => {
    expect(parseDuration(t)).toBe(ms);
  });
  it.each([['5'], ['m'], ['1.5h'], ['']])('rejects duration %j', (t) => expect(() => parseDuration(t)).toThrow(/duration/));
});

describe('config validation names the problem', () => {
  it.each([
    ['bad matcher', { route: { routes: [{ matchers: ['team=="x"'] }] } }, /not a matcher/],
    ['bad regex', { route: { routes: [{ match_re: { a: '(' } }] } }, /invalid regular expression/],
    ['lookahead', { route: { routes: [{ matchers: ['a=~"(?!x)y"'] }] } }, /no lookaround/],
    ['bad match key', { route: { routes: [{ match: { 'a-b': 'x' } }] } }, /label name/],
    ['unknown time interval', { route: { routes: [{ mute_time_intervals: ['nights'] }] } }, /time interval "nights" is not defined/],
    ['matchers on the root', { route: { matchers: ['a="b"'] } }, /root route matches every alert/],
    ['unknown field', { route: { recevier: 'x' } }, /recevier|Unrecognized/i],
    ['bad severity', { route: { auto_declare: { severity: 'P9' } } }, /P0|severity|Invalid/],
    ['bad duration', { route: { group_wait: 'soon' } }, /not a duration/],
  ])('%s', (_n, input, msg) => {
    const r = alertsConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n")).toMatch(msg);
  });
});

describe('inhibit rules (Alertmanager inhibit_test.go)', () => {
  const rules = compileInhibitRules([{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['cluster'] }]);
  const src = { fingerprint: 's', labels: { alertname: 'Down', severity: 'critical', cluster: 'c1' } };
  const cases: [string, Record<string, string>, { fingerprint: string; labels: Record<string, string> }[], boolean][] = [
    ['target with equal label is inhibited', { severity: 'warning', cluster: 'c1' }, [src], true],
    ['different equal label value is not', { severity: 'warning', cluster: 'c2' }, [src], false],
    ['missing equal label on both sides counts as equal', { severity: 'warning' }, [{ fingerprint: 's2', labels: { severity: 'critical' } }], true],
    ['missing on one side is not equal', { severity: 'warning' }, [src], false],
    ['non-target is never inhibited', { severity: 'critical', cluster: 'c1' }, [src], false],
    ['no source firing', { severity: 'warning', cluster: 'c1' }, [], false],
  ];
  it.each(cases)('%s', (_n, labels, firing, want) => {
    expect(isInhibited(rules, { fingerprint: 't', labels }, firing)).toBe(want);
  });
  it('an alert matching both sides does not inhibit itself', () => {
    const both = compileInhibitRules([{ source_matchers: ['a="1"'], target_matchers: ['a="1"'], equal: [] }]);
    const self = { fingerprint: 'x', labels: { a: '1' } };
    expect(isInhibited(both, self, [self])).toBe(false);
  });
});

describe('time intervals (Alertmanager timeinterval_test.go)', () => {
  const c = alertsConfigSchema.parse({
    time_intervals: [
      { name: 'weekends', time_intervals: [{ weekdays: ['saturday', 'sunday'] }] },
      { name: 'nights', time_intervals: [{ times: [{ start_time: '22:00', end_time: '24:00' }, { start_time: '00:00', end_time: '06:00' }] }] },
      { name: 'last-day', time_intervals: [{ days_of_month: ['-1'] }] },
      { name: 'berlin-office', time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '17:00' }], location: 'Europe/Berlin' }] },
      { name: 'q1-2026', time_intervals: [{ months: ['january:march'], years: ['2026'] }] },
    ],
  });
  const iv = buildTimeIntervals(c.time_intervals);
  const cases: [string, string, boolean][] = [
    ['weekends', '2026-03-07T12:00:00Z', true], // Saturday
    ['weekends', '2026-03-09T12:00:00Z', false], // Monday
    ['nights', '2026-03-09T23:30:00Z', true],
    ['nights', '2026-03-09T05:59:00Z', true],
    ['nights', '2026-03-09T06:00:00Z', false], // end is exclusive
    ['last-day', '2026-02-28T10:00:00Z', true],
    ['last-day', '2026-03-30T10:00:00Z', false],
    ['berlin-office', '2026-03-09T08:30:00Z', true], // 09:30 in Berlin
    ['berlin-office', '2026-03-09T07:30:00Z', false], // 08:30 in Berlin
    ['q1-2026', '2026-02-01T00:00:00Z', true],
    ['q1-2026', '2027-02-01T00:00:00Z', false],
  ];
  it.each(cases)('%s at %s is %s', (name, at, want) => expect(inNamedInterval(iv, name, new Date(at))).toBe(want));
  it('mute wins; active_time_intervals hold notifications outside them', () => {
    const sat = new Date('2026-03-07T12:00:00Z');
    const mon = new Date('2026-03-09T12:00:00Z');
    expect(routeMuted(iv, ['weekends'], [], sat)).toBe(true);
    expect(routeMuted(iv, ['weekends'], [], mon)).toBe(false);
    expect(routeMuted(iv, [], ['weekends'], mon)).toBe(true);
    expect(routeMuted(iv, [], ['weekends'], sat)).toBe(false);
  });
});
