/** All SQL of configuration versions (migrations/170_config_versions.sql). No side effects beyond the rows. */
import type { Queryable } from '../db/pool.js';

export type VersionSource = 'start' | 'cli' | 'slack' | 'sighup' | 'rollback' | 'apply';
export type VersionStatus = 'proposed' | 'active' | 'superseded' | 'failed' | 'refused';

export interface StoredVersion {
  id: number;
  content: string;
  hash: string;
  /** Validated configuration, defaults applied, secrets masked. */
  effective: Record<string, unknown>;
  author: string;
  source: VersionSource;
  gitCommit: string | null;
  createdAt: Date;
  status: VersionStatus;
  activatedAt: Date | null;
  previousId: number | null;
  changeId: number | null;
  failureReason: string | null;
}

interface Row {
  id: string | number;
  content: string;
  hash: string;
  effective: Record<string, unknown>;
  author: string;
  source: VersionSource;
  git_commit: string | null;
  created_at: Date;
  status: VersionStatus;
  activated_at: Date | null;
  previous_id: string | number | null;
  change_id: string | number | null;
  failure_reason: string | null;
}

const fromRow = (r: Row): StoredVersion => ({
  id: Number(r.id), content: r.content, hash: r.hash, effective: r.effective, author: r.author, source: r.source,
  gitCommit: r.git_commit, createdAt: r.created_at, status: r.status, activatedAt: r.activated_at,
  previousId: r.previous_id === null ? null : Number(r.previous_id), changeId: r.change_id === null ? null : Number(r.change_id),
  failureReason: r.failure_reason,
});

/** The version every replica should run, if any. */
export async function activeVersion(db: Queryable): Promise<StoredVersion | undefined> {
  const { rows } = await db.query<Row>(`SELECT * FROM config_versions WHERE status = 'active'`);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function getVersion(db: Queryable, id: number): Promise<StoredVersion | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM config_versions WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function versionByHash(db: Queryable, hash: string): Promise<StoredVersion | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM config_versions WHERE hash = $1', [hash]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export type NewVersion = Pick<StoredVersion, 'content' | 'hash' | 'effective' | 'author' | 'source' | 'gitCommit' | 'createdAt'>;

/** Inserts a proposed version, or returns the one with the same content (one row per hash). */
export async function insertVersion(db: Queryable, v: NewVersion): Promise<{ version: StoredVersion; created: boolean }> {
  const { rows } = await db.query<Row>(
    `INSERT INTO config_versions (content, hash, effective, author, source, git_commit, created_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (hash) DO NOTHING RETURNING *`,
    [v.content, v.hash, JSON.stringify(v.effective), v.author, v.source, v.gitCommit, v.createdAt],
  );
  if (rows[0]) return { version: fromRow(rows[0]), created: true };
  return { version: (await versionByHash(db, v.hash))!, created: false };
}

/** Locks the active row (if any) and the target: one switch at a time. */
export async function lockActive(db: Queryable): Promise<StoredVersion | undefined> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [CONFIG_SWITCH_LOCK]);
  return activeVersion(db);
}
/** Arbitrary constant: the transaction lock that serialises switches of the active version. */
const CONFIG_SWITCH_LOCK = 727_170;

export async function setStatus(db: Queryable, id: number, status: VersionStatus, reason: string | null = null): Promise<void> {
  await db.query('UPDATE config_versions SET status = $2, failure_reason = COALESCE($3, failure_reason) WHERE id = $1', [id, status, reason]);
}

/** Makes `id` the active version; `previousId` undefined keeps the one it has (a rollback). */
export async function markActive(db: Queryable, id: number, at: Date, previousId: number | null | undefined): Promise<void> {
  await db.query(
    `UPDATE config_versions SET status = 'active', activated_at = $2, failure_reason = NULL,
       previous_id = CASE WHEN $4 THEN $3::bigint ELSE previous_id END WHERE id = $1`,
    [id, at, previousId ?? null, previousId !== undefined],
  );
}

export async function setChangeId(db: Queryable, id: number, changeId: number): Promise<void> {
  await db.query('UPDATE config_versions SET change_id = $2 WHERE id = $1', [id, changeId]);
}

/** Tells every replica's watcher (LISTEN firebreak_config) at commit. */
export async function notifySwitch(db: Queryable, id: number): Promise<void> {
  await db.query(`SELECT pg_notify('${CONFIG_CHANNEL}', $1)`, [String(id)]);
}
export const CONFIG_CHANNEL = 'firebreak_config';

export interface HistoryRow extends Omit<StoredVersion, 'content' | 'effective'> {
  approvers: string[];
}

/** Newest first, with who approved each (from the change gate's records). */
export async function history(db: Queryable, limit: number): Promise<HistoryRow[]> {
  const { rows } = await db.query<Row & { approvers: string[] | null }>(
    `SELECT v.*, (SELECT array_agg(DISTINCT a.approver) FROM change_approvals a WHERE a.request_id = v.change_id) AS approvers
       FROM config_versions v ORDER BY v.id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => {
    const { content: _c, effective: _e, ...rest } = fromRow(r);
    return { ...rest, approvers: r.approvers ?? [] };
  });
}
