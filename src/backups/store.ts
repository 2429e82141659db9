import { advisoryUnlock, tryAdvisoryLock, type Queryable } from '../db/pool.js';
import type { BackupRecord, BackupStatus, Verification } from './model.js';
import type { BackupTier } from './config.js';

interface BackupRow {
  id: string;
  database: string;
  tier: BackupTier;
  status: BackupStatus;
  object_key: string;
  manifest_key: string;
  store_location: string;
  sha256: string | null;
  raw_bytes: number | null;
  stored_bytes: number | null;
  format: string;
  recipient: string;
  server_version: string | null;
  pg_dump_version: string | null;
  snapshot_at: Date | null;
  started_at: Date;
  finished_at: Date | null;
  verified_at: Date | null;
  verification: Verification;
  row_counts: Record<string, number> | null;
  requested_by: string;
  error: string | null;
  expired_at: Date | null;
}

function fromRow(r: BackupRow): BackupRecord {
  return {
    id: r.id, database: r.database, tier: r.tier, status: r.status, objectKey: r.object_key, manifestKey: r.manifest_key,
    storeLocation: r.store_location, sha256: r.sha256, rawBytes: r.raw_bytes, storedBytes: r.stored_bytes, format: r.format,
    recipient: r.recipient, serverVersion: r.server_version, pgDumpVersion: r.pg_dump_version, snapshotAt: r.snapshot_at,
    startedAt: r.started_at, finishedAt: r.finished_at, verifiedAt: r.verified_at, verification: r.verification ?? {},
    rowCounts: r.row_counts, requestedBy: r.requested_by, error: r.error, expiredAt: r.expired_at,
  };
}

export async function insertRunningBackup(
  db: Queryable,
  b: Pick<BackupRecord, 'id' | 'database' | 'tier' | 'objectKey' | 'manifestKey' | 'storeLocation' | 'recipient' | 'startedAt' | 'requestedBy' | 'format'>,
): Promise<void> {
  await db.query(
    `INSERT INTO backups (id, database, tier, status, object_key, manifest_key, store_location, recipient, started_at, requested_by, format)
     VALUES ($1,$2,$3,'running',$4,$5,$6,$7,$8,$9,$10)`,
    [b.id, b.database, b.tier, b.objectKey, b.manifestKey, b.storeLocation, b.recipient, b.startedAt, b.requestedBy, b.format],
  );
}

/**
 * The stream is in the store and its size matches: the backup has landed, at the pipeline's
 * speed. It is not good yet (verification, row counts and the manifest follow), so nothing that
 * picks or counts good backups sees it; only `running` moves here.
 */
export async function markUploaded(
  db: Queryable,
  id: string,
  b: Pick<BackupRecord, 'sha256' | 'rawBytes' | 'storedBytes' | 'serverVersion' | 'pgDumpVersion' | 'snapshotAt'>,
): Promise<void> {
  await db.query(
    `UPDATE backups SET status='uploaded', sha256=$2, raw_bytes=$3, stored_bytes=$4, server_version=$5, pg_dump_version=$6, snapshot_at=$7
      WHERE id=$1 AND status='running'`,
    [id, b.sha256, b.rawBytes, b.storedBytes, b.serverVersion, b.pgDumpVersion, b.snapshotAt],
  );
}

export async function markVerified(
  db: Queryable,
  id: string,
  b: Pick<BackupRecord, 'sha256' | 'rawBytes' | 'storedBytes' | 'serverVersion' | 'pgDumpVersion' | 'snapshotAt' | 'finishedAt' | 'verifiedAt' | 'verification' | 'rowCounts'>,
): Promise<void> {
  await db.query(
    `UPDATE backups SET status='verified', sha256=$2, raw_bytes=$3, stored_bytes=$4, server_version=$5, pg_dump_version=$6,
            snapshot_at=$7, finished_at=$8, verified_at=$9, verification=$10, row_counts=$11, error=NULL
      WHERE id=$1`,
    [id, b.sha256, b.rawBytes, b.storedBytes, b.serverVersion, b.pgDumpVersion, b.snapshotAt, b.finishedAt, b.verifiedAt,
      JSON.stringify(b.verification), b.rowCounts ? JSON.stringify(b.rowCounts) : null],
  );
}

/** Only a backup in progress (running or uploaded) can fail: one already recorded as verified stays good. */
export async function markFailed(
  db: Queryable,
  id: string,
  error: string,
  finishedAt: Date,
  partial: Partial<Pick<BackupRecord, 'rawBytes' | 'storedBytes' | 'snapshotAt' | 'serverVersion' | 'pgDumpVersion'>> = {},
  status: 'failed' | 'interrupted' = 'failed',
): Promise<void> {
  await db.query(
    `UPDATE backups SET status=$9, error=$2, finished_at=$3, raw_bytes=COALESCE($4, raw_bytes), stored_bytes=COALESCE($5, stored_bytes),
            snapshot_at=COALESCE($6, snapshot_at), server_version=COALESCE($7, server_version), pg_dump_version=COALESCE($8, pg_dump_version)
      WHERE id=$1 AND status IN ('running','uploaded')`,
    [id, error, finishedAt, partial.rawBytes ?? null, partial.storedBytes ?? null, partial.snapshotAt ?? null, partial.serverVersion ?? null, partial.pgDumpVersion ?? null, status],
  );
}

/** Records a later check (`verify`, `verify --full`); a failed re-check demotes the backup. */
export async function recordVerification(db: Queryable, id: string, verification: Verification, ok: boolean, at: Date, error?: string): Promise<void> {
  await db.query(
    `UPDATE backups SET verification = verification || $2::jsonb,
            verified_at = CASE WHEN $3 THEN $4 ELSE verified_at END,
            status = CASE WHEN $3 OR status <> 'verified' THEN status ELSE 'failed' END,
            error = CASE WHEN $3 THEN error ELSE $5 END
      WHERE id=$1`,
    [id, JSON.stringify(verification), ok, at, error ?? null],
  );
}

export async function markExpired(db: Queryable, id: string, at: Date): Promise<void> {
  await db.query(`UPDATE backups SET status='expired', expired_at=$2 WHERE id=$1 AND status='verified'`, [id, at]);
}

export async function findBackup(db: Queryable, id: string): Promise<BackupRecord | undefined> {
  const { rows } = await db.query<BackupRow>('SELECT * FROM backups WHERE id=$1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Newest first by recorded time (snapshot, else start), never by key name. */
export async function listBackups(db: Queryable, filter: { database?: string; status?: BackupStatus[]; limit?: number } = {}): Promise<BackupRecord[]> {
  const { rows } = await db.query<BackupRow>(
    `SELECT * FROM backups
      WHERE ($1::text IS NULL OR database=$1) AND ($2::text[] IS NULL OR status = ANY($2))
      ORDER BY COALESCE(snapshot_at, started_at) DESC, id DESC LIMIT $3`,
    [filter.database ?? null, filter.status ?? null, filter.limit ?? 50],
  );
  return rows.map(fromRow);
}

export async function latestVerified(db: Queryable, database?: string): Promise<BackupRecord | undefined> {
  const { rows } = await db.query<BackupRow>(
    `SELECT * FROM backups WHERE status='verified' AND ($1::text IS NULL OR database=$1)
      ORDER BY snapshot_at DESC, id DESC LIMIT 1`,
    [database ?? null],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function knownObjectKeys(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ object_key: string; manifest_key: string; status: string }>(
    `SELECT object_key, manifest_key, status FROM backups WHERE status IN ('verified','uploaded','running')`,
  );
  return new Set(rows.flatMap((r) => [r.object_key, r.manifest_key]));
}

/** Object and manifest keys of expired backups: anything of theirs still in the store is a leftover. */
export async function expiredObjectKeys(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ object_key: string; manifest_key: string }>(`SELECT object_key, manifest_key FROM backups WHERE status = 'expired'`);
  return new Set(rows.flatMap((r) => [r.object_key, r.manifest_key]));
}

/** Backups of one database never overlap: a session advisory lock on Firebreak's database. */
const lockKey = (database: string) => `firebreak-backup:${database}`;

/** Takes the database's backup lock on this session; false when another session holds it. */
export const tryLockBackups = (session: Queryable, database: string): Promise<boolean> => tryAdvisoryLock(session, lockKey(database));

export const unlockBackups = (session: Queryable, database: string): Promise<void> => advisoryUnlock(session, lockKey(database));

/** Called holding the lock, which proves no process is running these any more (it crashed or was killed). */
export async function failAbandoned(db: Queryable, database: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE backups SET status='failed', finished_at=$2,
            error = CASE status WHEN 'uploaded' THEN 'abandoned: the process running it stopped before verification finished' ELSE 'abandoned: the process running it stopped' END
      WHERE database=$1 AND status IN ('running','uploaded')`,
    [database, at],
  );
}

/** When the staleness watch last alerted about `subject` (one alert per episode). */
export async function lastStaleAlert(db: Queryable, subject: string): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(`SELECT max(at) AS at FROM events WHERE type = 'backup.stale' AND subject = $1`, [subject]);
  return rows[0]?.at ?? null;
}
