/** Run sizes and the seeded fault schedule: the same seed always gives the same schedule. */
import { PROXY_FAULTS } from './proxy.js';

/** mulberry32: a small, fast, seedable PRNG; Math.random cannot be seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosSize {
  workloadMs: number;
  quiesceMs: number;
  kills: number;
  sigterms: number;
  pgRestarts: number;
  pgDumpKills: number;
  slackFaults: number;
  pagerDutyFaults: number;
  s3Faults: number;
  opIntervalMs: number;
  concurrency: number;
  alertGroups: number;
  drDryRuns: number;
  backupCron: string;
  appDataMiB: number;
  restoreSamples: number;
  /** Pauses between a sender's re-deliveries of a request that got no 2xx. */
  retryPausesMs: number[];
}

export const SIZES: Record<'default' | 'short', ChaosSize> = {
  default: {
    workloadMs: 220_000, quiesceMs: 60_000, kills: 22, sigterms: 3, pgRestarts: 5, pgDumpKills: 3,
    slackFaults: 200, pagerDutyFaults: 80, s3Faults: 40, opIntervalMs: 120, concurrency: 16, alertGroups: 12,
    drDryRuns: 2, backupCron: '*/20 * * * * *', appDataMiB: 12, restoreSamples: 2, retryPausesMs: [700, 1500, 3000, 6000, 12_000],
  },
  short: {
    workloadMs: 15_000, quiesceMs: 45_000, kills: 2, sigterms: 1, pgRestarts: 1, pgDumpKills: 1,
    slackFaults: 20, pagerDutyFaults: 8, s3Faults: 4, opIntervalMs: 100, concurrency: 10, alertGroups: 4,
    drDryRuns: 0, backupCron: '*/5 * * * * *', appDataMiB: 3, restoreSamples: 1, retryPausesMs: [500, 1000, 2000, 4000, 6000],
  },
};

export type FaultKind = 'kill-9' | 'sigterm' | 'pg-restart' | 'pg_dump-kill' | `${'slack' | 'pagerduty' | 's3'}:${(typeof PROXY_FAULTS)[number]}`;

export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
  replica?: number;
  /** Pause before a killed/stopped replica is started again. */
  pauseMs?: number;
  /** Consecutive matching requests a proxy fault hits. */
  times?: number;
}

export function planFaults(seed: number, size: ChaosSize): PlannedFault[] {
  const r = rng(seed);
  const span = size.workloadMs;
  const out: PlannedFault[] = [];
  // Spread each kind evenly with jitter, so faults land throughout the run but not in lockstep.
  const spread = (count: number, make: (atMs: number) => PlannedFault, within = span) => {
    for (let i = 0; i < count; i++) {
      const slot = within / count;
      out.push(make(Math.floor(slot * i + r() * slot * 0.8 + slot * 0.1)));
    }
  };
  // Replica faults run one after another per replica (a restart takes seconds), so they are
  // spread over the first 70% of the workload and the last restart still lands inside it.
  spread(size.kills, (atMs) => ({ atMs, kind: 'kill-9', replica: Math.floor(r() * 2), pauseMs: 300 + Math.floor(r() * 2000) }), span * 0.7);
  spread(size.sigterms, (atMs) => ({ atMs, kind: 'sigterm', replica: Math.floor(r() * 2), pauseMs: 300 + Math.floor(r() * 1500) }), span * 0.7);
  spread(size.pgRestarts, (atMs) => ({ atMs, kind: 'pg-restart' }));
  spread(size.pgDumpKills, (atMs) => ({ atMs, kind: 'pg_dump-kill' }));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  spread(size.slackFaults, (atMs) => ({ atMs, kind: `slack:${pick(PROXY_FAULTS)}`, times: 1 + Math.floor(r() * 2) }));
  spread(size.pagerDutyFaults, (atMs) => ({ atMs, kind: `pagerduty:${pick(PROXY_FAULTS)}`, times: 1 }));
  // S3: the faults the issue names for multipart uploads (500s and resets), plus 503 SlowDown.
  spread(size.s3Faults, (atMs) => ({ atMs, kind: `s3:${pick(['http500', 'http503', 'reset'] as const)}`, times: 1 }));
  return out.sort((a, b) => a.atMs - b.atMs || a.kind.localeCompare(b.kind));
}
