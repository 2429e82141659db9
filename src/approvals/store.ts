import type { Queryable } from '../db/pool.js';
import type { Approval, ChangeCategory, ChangeRequest, ChangeRisk, ChangeStatus, MessageRef, StartedBecause } from './model.js';

/** SQL for change requests and approvals. No side effects beyond the rows. */

interface RequestRow {
  id: number; kind: string; title: string; category: ChangeCategory; risk: ChangeRisk | null;
  params: Record<string, unknown>; params_hash: string; requester: string; requester_channel: string | null;
  status: ChangeStatus; approvals_required: number; started_because: StartedBecause | null;
  break_glass_reason: string | null; needs_review: boolean; reviewed_by: string | null; reviewed_at: Date | null;
  review_note: string | null; created_at: Date; expires_at: Date; decided_at: Date | null; rejected_by: string | null;
  reject_reason: string | null; void_reason: string | null; executed_at: Date | null; finished_at: Date | null;
  result_ok: boolean | null; result_summary: string | null; message_channel: string | null; message_ts: string | null;
  direct_messages: MessageRef[];
}

function fromRow(r: RequestRow): ChangeRequest {
  return {
    id: r.id, kind: r.kind, title: r.title, category: r.category, risk: r.risk, params: r.params,
    paramsHash: r.params_hash, requester: r.requester, requesterChannel: r.requester_channel, status: r.status,
    approvalsRequired: r.approvals_required, startedBecause: r.started_because, breakGlassReason: r.break_glass_reason,
    needsReview: r.needs_review, reviewedBy: r.reviewed_by, reviewedAt: r.reviewed_at, reviewNote: r.review_note,
    createdAt: r.created_at, expiresAt: r.expires_at, decidedAt: r.decided_at, rejectedBy: r.rejected_by,
    rejectReason: r.reject_reason, voidReason: r.void_reason, executedAt: r.executed_at, finishedAt: r.finished_at,
    resultOk: r.result_ok, resultSummary: r.result_summary,
    message: r.message_channel && r.message_ts ? { channel: r.message_channel, ts: r.message_ts } : null,
    directMessages: r.direct_messages ?? [],
  };
}

/** What a new request starts with; everything else is set as it is decided and run. */
export type NewChangeRequest = Pick<
  ChangeRequest,
  'kind' | 'title' | 'category' | 'risk' | 'params' | 'paramsHash' | 'requester' | 'requesterChannel' | 'approvalsRequired'
  | 'startedBecause' | 'breakGlassReason' | 'needsReview' | 'createdAt' | 'expiresAt'
> & { status: 'pending' | 'executing'; requestKey?: string | null };

export async function insertRequest(db: Queryable, r: NewChangeRequest): Promise<ChangeRequest> {
  const { rows } = await db.query<RequestRow>(
    `INSERT INTO change_requests (kind, title, category, risk, params, params_hash, requester, requester_channel, status,
       approvals_required, started_because, break_glass_reason, needs_review, created_at, expires_at, executed_at, request_key)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15, CASE WHEN $9 = 'executing' THEN $14::timestamptz END, $16)
     RETURNING *`,
    [r.kind, r.title, r.category, r.risk, JSON.stringify(r.params), r.paramsHash, r.requester, r.requesterChannel, r.status,
      r.approvalsRequired, r.startedBecause, r.breakGlassReason, r.needsReview, r.createdAt, r.expiresAt, r.requestKey ?? null],
  );
  return fromRow(rows[0]!);
}

/** The change request a chat request made, if it made one. */
export async function requestByKey(db: Queryable, requestKey: string): Promise<ChangeRequest | undefined> {
  const { rows } = await db.query<RequestRow>('SELECT * FROM change_requests WHERE request_key = $1', [requestKey]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function getRequest(db: Queryable, id: number): Promise<ChangeRequest | undefined> {
  const { rows } = await db.query<RequestRow>('SELECT * FROM change_requests WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Reads the request and holds its row lock until the transaction ends: decisions serialise here. */
export async function lockRequest(db: Queryable, id: number): Promise<ChangeRequest | undefined> {
  const { rows } = await db.query<RequestRow>('SELECT * FROM change_requests WHERE id = $1 FOR UPDATE', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function approvalsFor(db: Queryable, id: number): Promise<Approval[]> {
  const { rows } = await db.query<{ approver: string; params_hash: string; at: Date }>(
    'SELECT approver, params_hash, at FROM change_approvals WHERE request_id = $1 ORDER BY at, approver',
    [id],
  );
  return rows.map((r) => ({ approver: r.approver, paramsHash: r.params_hash, at: r.at }));
}

/** False when this person already approved these exact parameters: they count once. */
export async function addApproval(db: Queryable, id: number, approver: string, hash: string, at: Date): Promise<boolean> {
  const r = await db.query(
    'INSERT INTO change_approvals (request_id, approver, params_hash, at) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING',
    [id, approver, hash, at],
  );
  return r.rowCount === 1;
}

export async function markApproved(db: Queryable, id: number, at: Date): Promise<void> {
  await db.query(`UPDATE change_requests SET status='approved', decided_at=$2, started_because='approved' WHERE id=$1 AND status='pending'`, [id, at]);
}

/**
 * Moves an approved request to executing and returns it, or nothing if another click,
 * retry or replica got there first: the one place that decides an action runs once.
 */
export async function claimExecution(db: Queryable, id: number, at: Date): Promise<ChangeRequest | undefined> {
  const { rows } = await db.query<RequestRow>(
    `UPDATE change_requests SET status='executing', executed_at=$2 WHERE id=$1 AND status='approved' RETURNING *`,
    [id, at],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function finishExecution(db: Queryable, id: number, ok: boolean, summary: string, at: Date): Promise<boolean> {
  const r = await db.query(
    `UPDATE change_requests SET status=$2, result_ok=$3, result_summary=$4, finished_at=$5 WHERE id=$1 AND status='executing'`,
    [id, ok ? 'executed' : 'failed', ok, summary, at],
  );
  return r.rowCount === 1;
}

/** Skips the remaining approvals of a pending request: it runs now and must be reviewed afterwards. */
export async function markBreakGlass(db: Queryable, id: number, reason: string, at: Date): Promise<ChangeRequest | undefined> {
  const { rows } = await db.query<RequestRow>(
    `UPDATE change_requests SET status='executing', started_because='break-glass', break_glass_reason=$2, needs_review=true,
            category='emergency', decided_at=$3, executed_at=$3
      WHERE id=$1 AND status='pending' RETURNING *`,
    [id, reason, at],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function markRejected(db: Queryable, id: number, by: string, reason: string, at: Date): Promise<boolean> {
  const r = await db.query(
    `UPDATE change_requests SET status='rejected', rejected_by=$2, reject_reason=$3, decided_at=$4 WHERE id=$1 AND status='pending'`,
    [id, by, reason, at],
  );
  return r.rowCount === 1;
}

/** Expires the request if it is still pending and past its expiry; returns it if this call did. */
export async function markExpired(db: Queryable, id: number, now: Date): Promise<ChangeRequest | undefined> {
  const { rows } = await db.query<RequestRow>(
    `UPDATE change_requests SET status='expired', decided_at=$2 WHERE id=$1 AND status='pending' AND expires_at <= $2 RETURNING *`,
    [id, now],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function markVoid(db: Queryable, id: number, reason: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE change_requests SET status='void', void_reason=$2, decided_at=$3 WHERE id=$1 AND status IN ('pending','approved','executing')`,
    [id, reason, at],
  );
}

export async function replaceParams(db: Queryable, id: number, params: Record<string, unknown>, hash: string): Promise<void> {
  await db.query(
    `UPDATE change_requests SET params=$2, params_hash=$3, status='pending', decided_at=NULL, started_because=NULL
      WHERE id=$1 AND status IN ('pending','approved')`,
    [id, JSON.stringify(params), hash],
  );
}

export async function setMessage(db: Queryable, id: number, message: MessageRef, directs: MessageRef[]): Promise<void> {
  await db.query('UPDATE change_requests SET message_channel=$2, message_ts=$3, direct_messages=$4 WHERE id=$1', [
    id, message.channel, message.ts, JSON.stringify(directs),
  ]);
}

export async function markReviewed(db: Queryable, id: number, by: string, note: string | null, at: Date): Promise<boolean> {
  const r = await db.query(
    `UPDATE change_requests SET reviewed_by=$2, review_note=$3, reviewed_at=$4 WHERE id=$1 AND needs_review AND reviewed_at IS NULL`,
    [id, by, note, at],
  );
  return r.rowCount === 1;
}

export async function duePending(db: Queryable, now: Date, limit = 100): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM change_requests WHERE status='pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => r.id);
}

/** Open requests and break-glass runs still awaiting their after-the-fact review, newest first. */
export async function listActive(db: Queryable, limit = 20): Promise<ChangeRequest[]> {
  const { rows } = await db.query<RequestRow>(
    `SELECT * FROM change_requests
      WHERE status IN ('pending','approved','executing') OR (needs_review AND reviewed_at IS NULL)
      ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return rows.map(fromRow);
}

export async function approvedRequestIds(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM change_requests WHERE status = 'approved'`);
  return rows.map((r) => r.id);
}

/** Requests left `executing` with no job (dedupe key `prefix` + id) behind them. */
export async function executingWithoutJob(db: Queryable, jobKeyPrefix: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT c.id FROM change_requests c WHERE c.status = 'executing'
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dedupe_key = $1::text || c.id)`,
    [jobKeyPrefix],
  );
  return rows.map((r) => r.id);
}
