/**
 * bench/routing: how fast the route tree places alerts, in process (no HTTP, no database):
 * a tree of the usual shape (a paging route with continue, one route per team with regex
 * children, a drop route) and 1,000 varied alerts, matched ROUNDS times; plus the time to
 * compile the tree (once per config load) and one pathological regex, which RE2 answers in
 * linear time where a backtracking engine would not return.
 *
 *   npx tsx bench/routing.ts        Env: ROUNDS (default 7), PASSES (alerts × passes per round, default 50)
 */
import { performance } from 'node:perf_hooks';
import { alertsConfigSchema } from '../src/alerts/config.js';
import { matchesAll, parseMatchers } from '../src/alerts/matchers.js';
import { compileRoutes, matchRoutes } from '../src/alerts/routing.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const PASSES = Number(process.env.PASSES ?? 50);
const TEAMS = ['db', 'web', 'api', 'payments', 'search', 'infra', 'data', 'ml'];

const route = {
  channel: 'alerts',
  group_by: ['alertname'],
  routes: [
    { matchers: ['severity="critical", env=~"prod|production"'], channel: 'pager', continue: true },
    ...TEAMS.map((t) => ({
      matchers: [`team="${t}"`],
      channel: t,
      routes: [
        { matchers: ['alertname=~"(Disk|Memory|CPU).*"'], channel: `${t}-resources` },
        { matchers: ['instance=~"db\\d+.*"', 'severity!~"info|none"'], channel: `${t}-db` },
        { matchers: ['service=~".*-canary"'], channel: `${t}-canary` },
      ],
    })),
    { match_re: { alertname: 'Watchdog|InfoInhibitor' }, channel: 'dropped' },
  ],
};

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const cfg = alertsConfigSchema.parse({ route });
const compileMs: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  compileRoutes(cfg.route, 'alerts');
  compileMs.push(performance.now() - t);
}
const tree = compileRoutes(cfg.route, 'alerts');

const alerts = Array.from({ length: 1000 }, (_, i) => ({
  alertname: ['DiskFull', 'HighLatency', 'MemoryPressure', 'Watchdog', 'ErrorRate'][i % 5]!,
  team: TEAMS[i % 9] ?? 'unknown',
  severity: ['critical', 'warning', 'info'][i % 3]!,
  env: ['prod', 'staging'][i % 2]!,
  instance: `db${i % 7}.example:9100`,
  service: `svc-${i % 11}${i % 4 === 0 ? '-canary' : ''}`,
  job: 'node',
}));

const rates: number[] = [];
let placed = 0;
for (let r = 0; r < ROUNDS; r++) {
  const t = performance.now();
  for (let p = 0; p < PASSES; p++) for (const a of alerts) placed += matchRoutes(tree, a).length;
  rates.push((PASSES * alerts.length) / ((performance.now() - t) / 1000));
}

const [evil] = parseMatchers('x=~"(a+)+b"');
const t = performance.now();
const evilHit = matchesAll([evil!], { x: 'a'.repeat(100_000) });
const evilMs = performance.now() - t;

const c = stats(compileMs);
const m = stats(rates);
console.log(`bench/routing: ${tree.routes.length} top-level routes, ${alerts.length} alerts × ${PASSES} passes × ${ROUNDS} rounds (${placed} placements)`);
console.log(`compile tree       ms   min ${c.min.toFixed(1)}  median ${c.median.toFixed(1)}  max ${c.max.toFixed(1)}`);
console.log(`matchRoutes   alerts/s  min ${fmt(m.min)}  median ${fmt(m.median)}  max ${fmt(m.max)}`);
console.log(`(a+)+b on 100,000 × "a": ${evilMs.toFixed(1)} ms, match ${evilHit}`);
