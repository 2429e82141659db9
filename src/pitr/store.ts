import type pg from 'pg';
import { withClient, type Queryable } from '../db/pool.js';
import { appendEvent, type NewEvent } from '../events/log.js';
import { lsnToBigInt, segmentEndLsn, type ArchiverStatus, type PitrRun, type PitrRunKind, type PitrRunStatus } from './model.js';

/**
 * Every SQL statement of the pitr area: Firebreak's own records (pitr_runs, pitr_problems, audit
 * events) and the few read-only queries it runs on the protected cluster and on scratch clusters.
 */

interface RunRow {
  id: number; kind: PitrRunKind; detail: string; repo: number | null; status: PitrRunStatus; requested_by: string;
  started_at: Date; finished_at: Date | null; error: string | null; result: Record<string, unknown>;
}

const fromRow = (r: RunRow): PitrRun => ({
  id: r.id, kind: r.kind, detail: r.detail, repo: r.repo, status: r.status, requestedBy: r.requested_by,
  startedAt: r.started_at, finishedAt: r.finished_at, error: r.error, result: r.result,
});

export async function insertRun(db: Queryable, r: { kind: PitrRunKind; detail: string; repo: number | null; requestedBy: string; at: Date }): Promise<PitrRun> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO pitr_runs (kind, detail, repo, status, requested_by, started_at) VALUES ($1, $2, $3, 'running', $4, $5) RETURNING *`,
    [r.kind, r.detail, r.repo, r.requestedBy, r.at],
  );
  return fromRow(rows[0]!);
}

export async function finishRun(db: Queryable, id: number, f: { status: Exclude<PitrRunStatus, 'running'>; at: Date; error?: string | null; result?: Record<string, unknown> }): Promise<PitrRun> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pitr_runs SET status = $2, finished_at = $3, error = $4, result = result || $5::jsonb WHERE id = $1 RETURNING *`,
    [id, f.status, f.at, f.error ?? null, JSON.stringify(f.result ?? {})],
  );
  return fromRow(rows[0]!);
}

export async function recentRuns(db: Queryable, kind: PitrRunKind, limit: number): Promise<PitrRun[]> {
  const { rows } = await db.query<RunRow>(`SELECT * FROM pitr_runs WHERE kind = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, [kind, limit]);
  return rows.map(fromRow);
}

/** Runs this process left 'running' when it died: they are interrupted, never good. */
export async function interruptOrphans(db: Queryable, at: Date, olderThan: Date): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE pitr_runs SET status = 'interrupted', finished_at = $1, error = 'Firebreak stopped while it ran' WHERE status = 'running' AND started_at < $2`,
    [at, olderThan],
  );
  return rowCount ?? 0;
}

export async function openProblem(db: Queryable, key: string, at: Date, detail: string): Promise<{ firstSeenAt: Date; alertedAt: Date | null }> {
  const { rows } = await db.query<{ first_seen_at: Date; alerted_at: Date | null }>(
    `INSERT INTO pitr_problems (key, first_seen_at, detail) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET detail = EXCLUDED.detail RETURNING first_seen_at, alerted_at`,
    [key, at, detail],
  );
  return { firstSeenAt: rows[0]!.first_seen_at, alertedAt: rows[0]!.alerted_at };
}

/** Marks a problem alerted; false when another replica did it first (so only one alert goes out). */
export async function claimAlert(db: Queryable, key: string, at: Date): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE pitr_problems SET alerted_at = $2 WHERE key = $1 AND alerted_at IS NULL`, [key, at]);
  return rowCount === 1;
}

/** Closes a problem; returns whether it had been alerted (then the all-clear is told). */
export async function closeProblem(db: Queryable, key: string): Promise<{ alerted: boolean } | undefined> {
  const { rows } = await db.query<{ alerted_at: Date | null }>(`DELETE FROM pitr_problems WHERE key = $1 RETURNING alerted_at`, [key]);
  return rows[0] ? { alerted: rows[0].alerted_at !== null } : undefined;
}

export async function openProblems(db: Queryable): Promise<Array<{ key: string; firstSeenAt: Date; alertedAt: Date | null; detail: string }>> {
  const { rows } = await db.query<{ key: string; first_seen_at: Date; alerted_at: Date | null; detail: string }>(`SELECT * FROM pitr_problems ORDER BY key`);
  return rows.map((r) => ({ key: r.key, firstSeenAt: r.first_seen_at, alertedAt: r.alerted_at, detail: r.detail }));
}

/** Audit: every physical backup, restore, drill and expire is an event in the hash-chained log. */
export async function recordEvent(pool: pg.Pool, e: NewEvent): Promise<void> {
  await appendEvent(pool, e);
}

/** How Firebreak connects to a cluster for read-only checks: its socket directory and port. */
export interface ClusterAddress {
  socketDir: string;
  port: number;
  user: string;
  database?: string;
}

function withCluster<T>(a: ClusterAddress, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient({ host: a.socketDir, port: a.port, user: a.user, database: a.database ?? 'postgres', application_name: 'firebreak-pitr', connectionTimeoutMillis: 10_000 }, fn);
}

/** pg_stat_archiver plus how much WAL sits after the last archived segment. */
export async function readArchiver(a: ClusterAddress): Promise<ArchiverStatus> {
  return withCluster(a, async (c) => {
    const { rows } = await c.query<{
      archived_count: string; last_archived_wal: string | null; last_archived_time: Date | null; failed_count: string;
      last_failed_wal: string | null; last_failed_time: Date | null; now: Date; lsn: string; seg: string;
    }>(
      `SELECT a.archived_count, a.last_archived_wal, a.last_archived_time, a.failed_count, a.last_failed_wal, a.last_failed_time,
              now() AS now, pg_current_wal_lsn()::text AS lsn, current_setting('wal_segment_size') AS seg
         FROM pg_stat_archiver a`,
    );
    const r = rows[0]!;
    const segBytes = parseSegmentSize(r.seg);
    // A history or backup-label file (000000010000000000000002.00000028.backup) counts as archived WAL too; its segment is the prefix.
    const seg = r.last_archived_wal?.slice(0, 24);
    const unarchived = seg && /^[0-9A-F]{24}$/i.test(seg) ? lsnToBigInt(r.lsn) - segmentEndLsn(seg, segBytes) : lsnToBigInt(r.lsn);
    return {
      archivedCount: Number(r.archived_count), lastArchivedWal: r.last_archived_wal, lastArchivedAt: r.last_archived_time,
      failedCount: Number(r.failed_count), lastFailedWal: r.last_failed_wal, lastFailedAt: r.last_failed_time,
      serverNow: r.now, unarchivedBytes: Number(unarchived),
    };
  });
}

function parseSegmentSize(s: string): number {
  const m = /^(\d+)\s*(kB|MB|GB)?$/.exec(s.trim());
  if (!m) throw new Error(`unexpected wal_segment_size ${s}`);
  const mult = m[2] === 'kB' ? 1024 : m[2] === 'MB' ? 1024 * 1024 : m[2] === 'GB' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

/**
 * Makes sure archived WAL covers "now": a commit record (assigning a transaction id writes one)
 * followed by a segment switch. A recovery to a time needs a commit after the target in the
 * archive to know where to stop; on a quiet database there may be none yet.
 */
export async function sealWal(a: ClusterAddress): Promise<string> {
  return withCluster(a, async (c) => {
    await c.query('SELECT txid_current()');
    const { rows } = await c.query<{ wal: string }>(`SELECT pg_walfile_name(pg_switch_wal()) AS wal`);
    return rows[0]!.wal;
  });
}

/** Where recovery stands on a restored cluster. */
export async function readRecovery(a: ClusterAddress): Promise<{ inRecovery: boolean; lastReplayedAt: Date | null }> {
  return withCluster(a, async (c) => {
    const { rows } = await c.query<{ r: boolean; t: Date | null }>('SELECT pg_is_in_recovery() AS r, pg_last_xact_replay_timestamp() AS t');
    return { inRecovery: rows[0]!.r, lastReplayedAt: rows[0]!.t };
  });
}

/** Runs the configured smoke SQL and row counts on a restored cluster; each in its own try. */
export async function validateRestored(a: ClusterAddress, smokeSql: string[], countTables: string[]): Promise<{ smoke: Array<{ sql: string; ok: boolean; error?: string }>; rowCounts: Record<string, number> }> {
  return withCluster(a, async (c) => {
    const smoke: Array<{ sql: string; ok: boolean; error?: string }> = [];
    for (const sql of smokeSql) {
      try {
        await c.query(sql);
        smoke.push({ sql, ok: true });
      } catch (err) {
        smoke.push({ sql, ok: false, error: (err as Error).message });
      }
    }
    const rowCounts: Record<string, number> = {};
    for (const t of countTables) {
      // Names are validated by the config schema (identifiers only); quoted part by part.
      const ident = t.split('.').map((p) => `"${p}"`).join('.');
      try {
        const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident}`);
        rowCounts[t] = Number(rows[0]!.n);
      } catch (err) {
        smoke.push({ sql: `SELECT count(*) FROM ${t}`, ok: false, error: (err as Error).message });
      }
    }
    return { smoke, rowCounts };
  });
}
