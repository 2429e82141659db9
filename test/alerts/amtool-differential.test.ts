/**
 * Differential test: Firebreak's routing against the real `amtool config routes test`
 * (Alertmanager 0.25). Seeded random route trees (=, !=, =~, !~, several matchers per entry,
 * braces, match/match_re, continue, nesting) and label sets, plus hand-written edge cases;
 * every comparison must agree.
 *
 * AMTOOL_DIFF_TREES (default 20) × AMTOOL_DIFF_LABELSETS (default 12) random comparisons;
 * AMTOOL_DIFF_SEED picks the trees (default fixed, so a failure reproduces). A larger run:
 *   AMTOOL_DIFF_TREES=500 npx vitest run test/alerts/amtool-differential.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLabelArg } from '../../src/alerts/matchers.js';
import { AMTOOL, TreeUnderTest, labelArg, pool, type AmRoute, type Comparison } from './amtool.js';

const TREES = Number(process.env.AMTOOL_DIFF_TREES ?? 20);
const LABELSETS = Number(process.env.AMTOOL_DIFF_LABELSETS ?? 12);
const SEED = Number(process.env.AMTOOL_DIFF_SEED ?? 23);

beforeAll(() => {
  if (!AMTOOL) throw new Error('amtool is not installed: run scripts/test-deps.sh (apt-get install prometheus-alertmanager)');
});

/** mulberry32: small, seedable, good enough to spread cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof rng>;

const NAMES = ['env', 'team', 'svc', 'host', 'msg', 'severity'];
/** Label values: the ones the issue names, and the characters parsers trip on. */
const VALUES = [
  '', 'prod', 'staging', 'db', "'db'", '"db"', 'db12', 'dbd+', 'db\\d+', 'critical', 'CRITICAL', 'Critical', 'x', 'a, b', 'x,y',
  'a\nb', 'line\n', '\n', 'say "hi"', 'back\\slash', ' padded ', 'a b', 'a\u00a0b', 'a\tb', 'a\u000bb', 'a\fb', 'é', 'Ünïcödé',
  '😀', 'a😀b', '日本語', 'K', '\u212a', 'abc', 'ABC', 'abc1', '{x}', 'x}', '=', '=~', '\\', '\\n', 'db\nx', 'x\ndb', 'xdb', 'db-7',
];
/** Value texts as written inside a matcher, quoted or not, with and without escapes. */
const EQ_TEXTS = [
  '"prod"', 'prod', '"db"', "'db'", '"\'db\'"', 'db', '"db12"', '""', '', '"a, b"', '"x,y"', '"a\\nb"', '"line\\n"', '"say \\"hi\\""',
  '"back\\\\slash"', '"back\\slash"', '"\\d"', '"é"', 'é', '"😀"', '"a😀b"', '"日本語"', '"critical"', 'critical', '"a b"', '"{x}"',
  '"x}"', '"\\\\"', '"\\\\n"', '"a\u00a0b"', '"=~"', '"\u212a"', '"\\a\\b"',
];
const RE_TEXTS = [
  '"db\\d+"', 'db\\d+', '"db\\\\d+"', '".*"', '".+"', '"(?i)critical"', '"[[:alpha:]]+"', '"[[:^alpha:]]*"', '"prod|staging"', 'prod|staging',
  '"a\\sb"', '"\\s*"', '"\\S+"', '"(?s).*"', '"a.b"', '"(?s)a.b"', '"\\w+"', '"\\pL+"', '"\\p{Han}+"', '"."', '".."', '"😀"', '"a\\nb"',
  '"[^,]*,.*"', '"x,y|a, b"', '"say \\"hi\\""', '"(?i)k"', '"k"', '"(a|b)c?"', '"(?P<n>db)\\d*"', '"\\Qdb\\d+\\E"', '""',
  '"\\\\\\\\"', '"line\\n"', '"\\x{1F600}"',
  // Shapes Firebreak answers without RE2 (literal sets, prefix/suffix/contains with .*): same answers required.
  '".*b"', '"a.*"', '".*,.*"', '"db.*"', '".*db"', '".*db.*"', '"a\\nb|x"', '"|a"', '"say.*"', '".*😀.*"', '".*\\nb"', '"line\\n.*"', '"[\\d]+"', '"(?U)a+"', '"\\bdb"', '"^db"', '"(?m)^b$"', '"[é-ü]+"',
];
const OPS = ['=', '!=', '=~', '!~'] as const;
const SPACE = ['', '', '', ' ', '  ', '\t'];

function matcherText(r: Rng): string {
  const op = r.pick(OPS);
  const value = op.includes('~') ? r.pick(RE_TEXTS) : r.pick(EQ_TEXTS);
  return `${r.pick(SPACE)}${r.pick(NAMES)}${r.pick(SPACE)}${op}${r.pick(SPACE)}${value}${r.pick(SPACE)}`;
}

/** One `matchers:` entry: one to three matchers, comma-separated, maybe in braces, maybe a trailing comma. */
function matchersEntry(r: Rng): string {
  const ms = Array.from({ length: 1 + (r.chance(0.7) ? 0 : r.int(3)) }, () => matcherText(r));
  let s = ms.join(r.pick([',', ', ', ' ,']));
  if (r.chance(0.15)) s += ',';
  if (r.chance(0.2)) s = `{${s}}`;
  return s;
}

function randomRoute(r: Rng, depth: number, counter: { n: number }): AmRoute {
  const route: AmRoute = {};
  if (r.chance(0.8)) route.receiver = `r${counter.n++}`;
  const kind = r.next();
  // Unquoted values end at trailing spaces and cannot start with a space, so keep them
  // apart from the whitespace the generator adds around matchers.
  if (kind < 0.6) route.matchers = Array.from({ length: 1 + r.int(2) }, () => matchersEntry(r));
  else if (kind < 0.75) route.match = { [r.pick(NAMES)]: r.pick(VALUES) };
  else if (kind < 0.9) route.match_re = { [r.pick(NAMES)]: r.pick(['db\\d+', '.*', '.+', '(?i)critical', '[[:alpha:]]+', 'prod|staging', 'a\\sb', '(?s).*', '\\pL+', '.', '.*-7', 'db.*', '.*db.*', 'x|db|']) };
  if (r.chance(0.3)) route.continue = true;
  if (depth < 3 && r.chance(0.45 / (depth + 1))) route.routes = Array.from({ length: 1 + r.int(4) }, () => randomRoute(r, depth + 1, counter));
  return route;
}

function randomTree(r: Rng): AmRoute {
  const counter = { n: 1 };
  return { receiver: 'r0', routes: Array.from({ length: 1 + r.int(5) }, () => randomRoute(r, 1, counter)) };
}

function randomLabelSet(r: Rng): string[] {
  const names = NAMES.filter(() => r.chance(0.6));
  // Both argument forms amtool takes: quoted with escapes, and bare when nothing needs quoting.
  return names.map((n) => {
    const v = r.pick(VALUES);
    return r.chance(0.3) && /^[a-zA-Z0-9_.'-]+$/.test(v) ? `${n}=${v}` : labelArg(n, v);
  });
}

const report = (cs: Comparison[], tree: TreeUnderTest) =>
  cs.filter((c) => c.amtool !== c.firebreak).map((c) => ({ ...c, tree: tree.yaml }));

describe('label arguments round-trip through the amtool form', () => {
  it.each(VALUES.map((v) => [v]))('%j', (v) => {
    expect(parseLabelArg(labelArg('x', v))).toEqual({ name: 'x', value: v });
  });
});

describe('routing agrees with amtool config routes test', () => {
  it(`on ${TREES} seeded random trees × ${LABELSETS} label sets (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const trees = Array.from({ length: TREES }, () => new TreeUnderTest(randomTree(r)));
    const labelSets = trees.map(() => Array.from({ length: LABELSETS }, () => randomLabelSet(r)));
    try {
      let compared = 0;
      const disagreements: unknown[] = [];
      await pool(trees.map((t, i) => [t, i] as const), 2, async ([tree, i]) => {
        const v = await tree.validity();
        if (v.amtool !== v.firebreak) disagreements.push({ validity: v, tree: tree.yaml });
        if (!v.amtool || !v.firebreak) return;
        const cs = await tree.compare(labelSets[i]!, 2);
        compared += cs.length;
        disagreements.push(...report(cs, tree));
      });
      expect(disagreements).toEqual([]);
      // The generator writes valid matchers, so (nearly) every label set is compared.
      expect(compared).toBeGreaterThanOrEqual(TREES * LABELSETS * 0.9);
    } finally {
      for (const t of trees) t.dispose();
    }
  }, 300_000);
});

describe('hand-written edge cases agree with amtool', () => {
  // One route per issue-23 item (and then some), each to its own receiver.
  const tree = new TreeUnderTest({
    receiver: 'default',
    routes: [
      { receiver: 'unknown-escape-kept', matchers: ['host=~"db\\d+"'] },
      { receiver: 'dot-no-newline', matchers: ['y=~".*"', 'probe="dot"'] },
      { receiver: 'ascii-space', matchers: ['s=~"a\\sb"'] },
      { receiver: 'case-insensitive', matchers: ['severity=~"(?i)critical"'] },
      { receiver: 'posix-class', matchers: ['word=~"[[:alpha:]]+"'] },
      { receiver: 'two-in-one', matchers: ['svc="x", env="prod"'] },
      { receiver: 'single-quotes', matchers: ["team='db'"] },
      { receiver: 'owner-db', matchers: ['owner="db"'] },
      { receiver: 'braces-trailing-comma', matchers: ['{a="1",b="2",}'] },
      { receiver: 'comma-in-quotes', matchers: ['msg="a, b"'] },
      { receiver: 'escaped-quote', matchers: ['q="say \\"hi\\""'] },
      { receiver: 'newline-escape', matchers: ['nl="a\\nb"'] },
      { receiver: 'unicode', matchers: ['u=~"\\pL+😀"'] },
      { receiver: 'legacy', match: { lm: 'exact' }, match_re: { lr: 'pre.*' } },
      { receiver: 'empty-entry', matchers: ['', 'ee="1"'] },
      { receiver: 'continue-a', matchers: ['c="1"'], continue: true, routes: [{ receiver: 'nested', matchers: ['d!~"no|nope"'] }] },
      { receiver: 'continue-b', matchers: ['c=~"1|2"'] },
      { receiver: 'colon-name', matchers: ['job:rate="5"'] },
    ],
  });
  afterAll(() => tree.dispose());

  const cases: [string, string[], string][] = [
    ['1. unknown escape keeps its backslash', ['host=db12'], 'unknown-escape-kept'],
    ['1. ... so dbd+ does not match', ['host=dbdd'], 'default'],
    ['2. . does not match a newline', [labelArg('y', 'a\nb'), 'probe=dot'], 'default'],
    ['2. ... but matches the rest', ['y=ab', 'probe=dot'], 'dot-no-newline'],
    ['3. \\s is ASCII: space', [labelArg('s', 'a b')], 'ascii-space'],
    ['3. \\s is ASCII: no-break space', [labelArg('s', 'a\u00a0b')], 'default'],
    ['3. \\s is ASCII: vertical tab', [labelArg('s', 'a\u000bb')], 'default'],
    ['4. (?i)', ['severity=CRITICAL'], 'case-insensitive'],
    ['4. [[:alpha:]]', ['word=abcXYZ'], 'posix-class'],
    ['4. [[:alpha:]] is ASCII', [labelArg('word', 'é')], 'default'],
    ['5. two matchers in one entry', ['svc=x', 'env=prod'], 'two-in-one'],
    ['5. ... both must match', ['svc=x', 'env=dev'], 'default'],
    ['6. single quotes are part of the value', ["team='db'"], 'single-quotes'],
    ['6. ... so plain db does not match', ['team=db'], 'default'],
    ['7. amtool form owner="db" is the value db', ['owner="db"'], 'owner-db'],
    ['7. ... as is the bare owner=db', ['owner=db'], 'owner-db'],
    ['braces and trailing comma', ['a=1', 'b=2'], 'braces-trailing-comma'],
    ['comma inside quotes', [labelArg('msg', 'a, b')], 'comma-in-quotes'],
    ['escaped quotes', [labelArg('q', 'say "hi"')], 'escaped-quote'],
    ['\\n escape is a newline', [labelArg('nl', 'a\nb')], 'newline-escape'],
    ['unicode letters and emoji', [labelArg('u', 'Ünïcödé日本😀')], 'unicode'],
    ['legacy match + match_re', ['lm=exact', 'lr=prefix'], 'legacy'],
    ['empty matchers entry adds nothing', ['ee=1'], 'empty-entry'],
    ['continue, then nested, then sibling', ['c=1'], 'nested,continue-b'],
    ['continue with nested miss', ['c=1', 'd=nope'], 'continue-a,continue-b'],
    ['label name with a colon', ['job:rate=5'], 'colon-name'],
    ['nothing matches', ['zzz=1'], 'default'],
  ];

  it.each(cases)('%s', async (_name, args, want) => {
    const [c] = await tree.compare([args]);
    expect(c).toEqual({ args, amtool: want, firebreak: want });
  });
});

describe('config validity agrees with amtool check-config', () => {
  // Matcher entries, regexes, label names and intervals, each alone in a tree; both sides must accept or both refuse.
  const entries = [
    'a="b"', 'a=b', 'a = "b c"', 'a=', 'a=""', '{a="b"}', '{a="b"', 'a="b"}', ' {a="b"}', 'a="b",', 'a="b", ', 'a="b",,c="d"', ',',
    'a=="b"', 'a="b', 'a=b"', 'a="b"c"', 'a="b\\"', 'a=\'b\'', '1a="b"', 'a-b="c"', 'a:b="c"', 'a', '=b', 'a!="b"', 'a=~"b"', 'a!~"b"',
    'a~="b"', 'a="b"\u00a0', 'a="b"\u00a0,c="d"', 'a="b c" ', 'a=b c', '', ' ', 'a="x,y", b="z"', 'a="\\"', 'a=\\', 'a="b\\\\"',
    'a=~"(?!x)"', 'a=~"(?=x)"', 'a=~"(?<=x)y"', 'a=~"(?<n>x)"', 'a=~"(?P<n>x)"', 'a=~"(a)\\\\1"', 'a=~"a++"', 'a=~"x{1001}"',
    'a=~"x{1000}"', 'a=~"\\\\C"', 'a=~"("', 'a=~"[[:alpha:]]"', 'a=~"[[:foo:]]"', 'a=~"\\\\pL"', 'a=~"\\\\p{Foo}"', 'a=~"[(?<n>x)]"',
    'a=~"\\\\Q(?<n>\\\\E"', 'a=~"(?i)x"', 'a=~"(?x)x"', 'a=~"\\\\z"', 'a=~"\\\\Z"', 'a=~"\\d"', 'a=~"\\e"',
  ];
  const regexes = ['(?!x)', '(?<n>x)', '(?P<n>x)', '[[:alpha:]]+', '(?i)critical', '\\d+', '(', 'a{2,1}', '\\8', '[z-a]'];
  const trees = [
    ...entries.map((e) => ({ what: `matchers: [${JSON.stringify(e)}]`, tree: new TreeUnderTest({ receiver: 'r', routes: [{ receiver: 's', matchers: [e] }] }) })),
    ...regexes.map((re) => ({ what: `match_re: ${JSON.stringify(re)}`, tree: new TreeUnderTest({ receiver: 'r', routes: [{ receiver: 's', match_re: { a: re } }] }) })),
    ...['bad-name', '1x', 'a:b'].map((n) => ({ what: `match key ${n}`, tree: new TreeUnderTest({ receiver: 'r', routes: [{ receiver: 's', match: { [n]: 'v' } }] }) })),
    ...[['a', 'b'], ['...'], ['...', 'a'], ['a', 'a'], ['a-b'], ['a:b'], []].map((g) => ({ what: `group_by ${JSON.stringify(g)}`, tree: new TreeUnderTest({ receiver: 'r', routes: [{ receiver: 's', group_by: g }] }) })),
    ...['0s', '1s', '0m', '1h'].flatMap((d) => [
      { what: `group_interval ${d}`, tree: new TreeUnderTest({ receiver: 'r', routes: [{ receiver: 's', group_interval: d }] }) },
      { what: `repeat_interval ${d}`, tree: new TreeUnderTest({ receiver: 'r', routes: [{ receiver: 's', repeat_interval: d }] }) },
    ]),
  ];
  afterAll(() => trees.forEach((t) => t.tree.dispose()));

  it(`on ${trees.length} matcher entries, regexes, label names and intervals`, async () => {
    const results = await pool(trees, 4, async ({ what, tree }) => ({ what, ...(await tree.validity()) }));
    const disagreements = results.filter((r) => r.amtool !== r.firebreak);
    expect(disagreements).toEqual([]);
    // Both kinds occur, so the comparison can fail either way.
    expect(results.filter((r) => r.amtool).length).toBeGreaterThan(10);
    expect(results.filter((r) => !r.amtool).length).toBeGreaterThan(10);
  }, 120_000);
});
