/**
 * bench/chaos: a seeded fault-injection run against two real Firebreak processes, then the
 * invariants and one table of figures. Exits 1 when any invariant is violated.
 *
 *   npm run chaos                         (default size: ~5 minutes)
 *   npm run chaos -- --short --seed 42    (the ≤ 60 s size the test suite runs)
 *
 * It starts its own PostgreSQL cluster (initdb/pg_ctl in a temp dir), moto_server, fake Slack,
 * fake PagerDuty and fault proxies; nothing outside the run is touched.
 */
import { runChaos } from './chaos/run.js';
import { formatReport } from './chaos/report.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seed = Number(flag('--seed') ?? process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const size = args.includes('--short') ? 'short' : 'default';

const result = await runChaos({ seed, size, log: (l) => console.error(l) });
console.log(formatReport(result));
process.exit(result.passed ? 0 : 1);
