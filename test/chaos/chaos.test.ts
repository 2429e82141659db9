/**
 * The short chaos run (bench/chaos.ts --short) as part of the suite: two real Firebreak
 * processes on their own PostgreSQL cluster, S3 and fake Slack/PagerDuty behind fault proxies,
 * kill -9, SIGTERM, a PostgreSQL restart, proxy faults and a pg_dump killed mid-dump, then
 * every invariant. Fails with the run's table when anything was lost, duplicated or stuck.
 * CHAOS_SEED=<n> replays a seed's fault schedule.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../../bench/chaos/run.js';
import { formatReport } from '../../bench/chaos/report.js';
import { planFaults, SIZES } from '../../bench/chaos/schedule.js';

const SEED = Number(process.env.CHAOS_SEED ?? 18);

describe('chaos (short run)', () => {
  it('the same seed gives the same fault schedule, with every kind of fault in it', () => {
    const a = planFaults(SEED, SIZES.short);
    expect(planFaults(SEED, SIZES.short)).toEqual(a);
    expect(planFaults(SEED + 1, SIZES.short)).not.toEqual(a);
    const kinds = new Set(a.map((f) => f.kind.split(':')[0]));
    expect([...kinds].sort()).toEqual(['kill-9', 'pagerduty', 'pg-restart', 'pg_dump-kill', 's3', 'sigterm', 'slack']);
    expect(a.every((f) => f.atMs >= 0 && f.atMs < SIZES.short.workloadMs)).toBe(true);
  });

  it('loses, duplicates and strands nothing while replicas, PostgreSQL and dependencies fail', async () => {
    const result = await runChaos({ seed: SEED, size: 'short' });
    const table = formatReport(result);
    // Faults really happened and work really flowed, or a pass means nothing.
    expect(result.faults['replica kill -9'], table).toBeGreaterThanOrEqual(1);
    expect(result.faults['PostgreSQL restart -m fast'], table).toBe(1);
    expect(result.operations.declare ?? 0, table).toBeGreaterThan(5);
    const violations = result.invariants.filter((i) => i.lost + i.duplicated + i.stuck + i.violations > 0);
    expect(violations.map((v) => v.name), table).toEqual([]);
    // The quiesce ends as soon as nothing is due or running; its window (45 s, up to 135 s while
    // the backlog still shrinks) only matters on a machine loaded by other suites.
  }, 360_000);
});
