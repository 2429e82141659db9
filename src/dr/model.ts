/** What a disaster-recovery drill is made of: the ten steps, their outcomes and the run record. */

export type DrKind = 'dry-run' | 'execute';

/** The change-gate action kind of a real recovery; its policy (two approvers by default) is approvals config. */
export const DR_EXECUTE_KIND = 'dr.execute';
/** Dry runs are gated too (one approver) unless the team marks them a pre-approved standard change. */
export const DR_DRY_RUN_KIND = 'dr.dry-run';
export type DrTrigger = 'command' | 'schedule';
export type DrStatus = 'running' | 'passed' | 'failed' | 'cancelled' | 'interrupted';
export type StepStatus = 'pending' | 'running' | 'passed' | 'failed' | 'skipped' | 'cancelled';

export type StepKey =
  | 'preflight' | 'choose' | 'fetch' | 'verify' | 'prepare' | 'restore' | 'post-restore' | 'validate' | 'report'
  | 'cleanup' | 'switch-traffic';

export interface StepDefinition {
  key: StepKey;
  title: string;
}

const COMMON: StepDefinition[] = [
  { key: 'preflight', title: 'Pre-flight checks' },
  { key: 'choose', title: 'Choose the backup' },
  { key: 'fetch', title: 'Fetch from the object store' },
  { key: 'verify', title: 'Decrypt and verify checksum' },
  { key: 'prepare', title: 'Prepare the target database' },
  { key: 'restore', title: 'Restore (pg_restore)' },
  { key: 'post-restore', title: 'Post-restore hook' },
  { key: 'validate', title: 'Validate (row counts, smoke checks)' },
  { key: 'report', title: 'Report RTO / RPO' },
];

/** A dry run ends by dropping its scratch database; a real recovery ends by handing traffic over. */
export function stepsFor(kind: DrKind): StepDefinition[] {
  return [...COMMON, kind === 'dry-run' ? { key: 'cleanup', title: 'Clean up the scratch database' } : { key: 'switch-traffic', title: 'Switch traffic' }];
}

/** Steps 3-8 (fetch .. validate): their wall time is the measured RTO. */
export const RTO_STEPS: StepKey[] = ['fetch', 'verify', 'prepare', 'restore', 'post-restore', 'validate'];

export interface StepRecord {
  n: number;
  key: StepKey;
  title: string;
  status: StepStatus;
  startedAt?: string;
  /** Measured with a monotonic timer, not the clock: it is what RTO is made of. */
  durationMs?: number;
  detail?: string;
}

export interface DrTargets {
  rpoMs: number;
  rtoMs: number;
  stretchRpoMs: number;
  stretchRtoMs: number;
}

export interface DrVerdict {
  rtoMs: number | null;
  rpoMs: number | null;
  rtoMet: boolean | null;
  rpoMet: boolean | null;
  rtoStretchMet: boolean | null;
  rpoStretchMet: boolean | null;
}

export interface DrRun {
  id: number;
  kind: DrKind;
  trigger: DrTrigger;
  backupId: string | null;
  database: string | null;
  requester: string;
  approvers: string[];
  changeRequestId: number | null;
  /** The scratch database (dry run) or the recovery target (execute). */
  targetDatabase: string | null;
  status: DrStatus;
  steps: StepRecord[];
  rtoMs: number | null;
  rpoMs: number | null;
  targets: DrTargets;
  error: string | null;
  channelId: string | null;
  messageTs: string | null;
  threadTs: string | null;
  replicaId: string;
  cancelRequestedBy: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** Who is running what, for the person whose request was turned away. */
export interface BusyInfo {
  run: DrRun | undefined;
}

export class DrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DrError';
  }
}

/** Scratch databases are named so that nothing else can ever be mistaken for one and dropped. */
export const SCRATCH_PREFIX = 'firebreak_dr_';
export const scratchDatabaseName = (runId: number): string => `${SCRATCH_PREFIX}${runId}`;
export const isScratchDatabaseName = (name: string): boolean => /^firebreak_dr_[0-9]+$/.test(name);

export function verdictFor(targets: DrTargets, rtoMs: number | null, rpoMs: number | null): DrVerdict {
  const le = (v: number | null, max: number) => (v === null ? null : v <= max);
  return {
    rtoMs, rpoMs,
    rtoMet: le(rtoMs, targets.rtoMs),
    rpoMet: le(rpoMs, targets.rpoMs),
    rtoStretchMet: le(rtoMs, targets.stretchRtoMs),
    rpoStretchMet: le(rpoMs, targets.stretchRpoMs),
  };
}

/** `1 h 02 min`, `3 min 05 s`, `850 ms`: durations as an on-call engineer reads them. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const neg = ms < 0;
  let v = Math.abs(ms);
  let out: string;
  if (v < 1000) out = `${Math.round(v)} ms`;
  else if (v < 60_000) out = `${(v / 1000).toFixed(1)} s`;
  else if (v < 3_600_000) {
    v = Math.round(v / 1000);
    out = `${Math.floor(v / 60)} min ${String(v % 60).padStart(2, '0')} s`;
  } else if (v < 86_400_000) {
    v = Math.round(v / 60_000);
    out = `${Math.floor(v / 60)} h ${String(v % 60).padStart(2, '0')} min`;
  } else {
    v = Math.round(v / 3_600_000);
    out = `${Math.floor(v / 24)} d ${v % 24} h`;
  }
  return neg ? `-${out}` : out;
}
