import { advisoryUnlock, tryAdvisoryLock, type Queryable } from '../db/pool.js';
import type { DrKind, DrRun, DrStatus, DrTargets, DrTrigger, StepRecord } from './model.js';

interface DrRunRow {
  id: number | string;
  kind: DrKind;
  trigger: DrTrigger;
  backup_id: string | null;
  database: string | null;
  requester: string;
  approvers: string[];
  change_request_id: number | string | null;
  target_database: string | null;
  status: DrStatus;
  steps: StepRecord[];
  rto_ms: number | string | null;
  rpo_ms: number | string | null;
  targets: DrTargets;
  error: string | null;
  channel_id: string | null;
  message_ts: string | null;
  thread_ts: string | null;
  replica_id: string;
  cancel_requested_by: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/** bigint columns arrive from pg as strings; the model speaks numbers. */
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: DrRunRow): DrRun {
  return {
    id: Number(r.id), kind: r.kind, trigger: r.trigger, backupId: r.backup_id, database: r.database, requester: r.requester,
    approvers: r.approvers, changeRequestId: num(r.change_request_id), targetDatabase: r.target_database, status: r.status,
    steps: r.steps, rtoMs: num(r.rto_ms), rpoMs: num(r.rpo_ms), targets: r.targets, error: r.error, channelId: r.channel_id,
    messageTs: r.message_ts, threadTs: r.thread_ts, replicaId: r.replica_id, cancelRequestedBy: r.cancel_requested_by,
    startedAt: r.started_at, finishedAt: r.finished_at,
  };
}

export interface NewDrRun {
  kind: DrKind;
  trigger: DrTrigger;
  backupId: string | null;
  requester: string;
  approvers: string[];
  changeRequestId: number | null;
  targetDatabase: string | null;
  steps: StepRecord[];
  targets: DrTargets;
  channelId: string | null;
  replicaId: string;
  startedAt: Date;
}

export async function insertRun(db: Queryable, r: NewDrRun): Promise<DrRun> {
  const { rows } = await db.query<DrRunRow>(
    `INSERT INTO dr_runs (kind, trigger, backup_id, requester, approvers, change_request_id, target_database, steps,
                          targets, channel_id, replica_id, started_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING *`,
    [r.kind, r.trigger, r.backupId, r.requester, r.approvers, r.changeRequestId, r.targetDatabase, JSON.stringify(r.steps),
      JSON.stringify(r.targets), r.channelId, r.replicaId, r.startedAt],
  );
  return fromRow(rows[0]!);
}

export type RunPatch = Partial<Pick<DrRun, 'backupId' | 'database' | 'targetDatabase' | 'channelId' | 'steps' | 'rtoMs' | 'rpoMs' | 'error' | 'messageTs' | 'threadTs' | 'finishedAt' | 'status'>>;

const COLUMNS: Record<keyof RunPatch, string> = {
  backupId: 'backup_id', database: 'database', channelId: 'channel_id', targetDatabase: 'target_database', steps: 'steps', rtoMs: 'rto_ms',
  rpoMs: 'rpo_ms', error: 'error', messageTs: 'message_ts', threadTs: 'thread_ts', finishedAt: 'finished_at', status: 'status',
};

export async function updateRun(db: Queryable, id: number, patch: RunPatch): Promise<void> {
  const sets: string[] = [];
  const values: unknown[] = [];
  for (const [k, v] of Object.entries(patch) as [keyof RunPatch, unknown][]) {
    if (v === undefined) continue;
    values.push(k === 'steps' ? JSON.stringify(v) : v);
    sets.push(`${COLUMNS[k]} = $${values.length}`);
  }
  if (sets.length === 0) return;
  values.push(id);
  await db.query(`UPDATE dr_runs SET ${sets.join(', ')} WHERE id = $${values.length}`, values);
}

export async function getRun(db: Queryable, id: number): Promise<DrRun | undefined> {
  const { rows } = await db.query<DrRunRow>('SELECT * FROM dr_runs WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function runningRun(db: Queryable): Promise<DrRun | undefined> {
  const { rows } = await db.query<DrRunRow>("SELECT * FROM dr_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1");
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function recentRuns(db: Queryable, limit: number, kind?: DrKind): Promise<DrRun[]> {
  const { rows } = await db.query<DrRunRow>(
    'SELECT * FROM dr_runs WHERE ($1::text IS NULL OR kind = $1) ORDER BY started_at DESC, id DESC LIMIT $2',
    [kind ?? null, limit],
  );
  return rows.map(fromRow);
}

/** Marks a run to be cancelled by whichever replica runs it; false when it is not running. */
export async function requestCancel(db: Queryable, id: number, actor: string, at: Date): Promise<boolean> {
  const r = await db.query(
    `UPDATE dr_runs SET cancel_requested_by = $2, cancel_requested_at = $3
      WHERE id = $1 AND status = 'running' AND cancel_requested_by IS NULL`,
    [id, actor, at],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function cancelRequestedBy(db: Queryable, id: number): Promise<string | null> {
  const { rows } = await db.query<{ by: string | null }>('SELECT cancel_requested_by AS by FROM dr_runs WHERE id = $1', [id]);
  return rows[0]?.by ?? null;
}

/**
 * Runs still marked running while nobody holds the drill lock belong to a replica that died:
 * they become 'interrupted'. Returns them so their scratch databases can be dropped.
 */
export async function markOrphansInterrupted(db: Queryable, at: Date): Promise<DrRun[]> {
  const { rows } = await db.query<DrRunRow>(
    `UPDATE dr_runs SET status = 'interrupted', finished_at = $1,
            error = coalesce(error, 'the replica running it stopped before it finished')
      WHERE status = 'running' RETURNING *`,
    [at],
  );
  return rows.map(fromRow);
}

/** When the newest dry run started (any trigger, any outcome); undefined when there was none. */
export async function lastDryRunStartedAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>("SELECT max(started_at) AS at FROM dr_runs WHERE kind = 'dry-run'");
  return rows[0]?.at ?? undefined;
}

/** Arbitrary constant: the session advisory lock that lets only one drill run across replicas. */
const DRILL_LOCK = 727_050;

/** Takes the drill lock on this session; false when a drill runs somewhere. */
export const tryLockDrills = (session: Queryable): Promise<boolean> => tryAdvisoryLock(session, DRILL_LOCK);

export const unlockDrills = (session: Queryable): Promise<void> => advisoryUnlock(session, DRILL_LOCK);
