import type { Queryable } from '../db/pool.js';
import type { ApiMatcher } from '../silences/alertmanager-client.js';

/* SQL for maintenance windows; no side effects beyond the rows written. */

export interface MaintenanceWindow {
  id: number;
  target: string;
  matchers: ApiMatcher[];
  reason: string;
  production: boolean;
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  changeId: number | null;
  silences: { alertmanager: string; id: string }[];
  endedAt: Date | null;
  endedBy: string | null;
}

interface Row {
  id: number; target: string; matchers: ApiMatcher[]; reason: string; production: boolean; starts_at: Date; ends_at: Date;
  created_by: string; change_id: number | null; silences: { alertmanager: string; id: string }[]; ended_at: Date | null; ended_by: string | null;
}

const fromRow = (r: Row): MaintenanceWindow => ({
  id: r.id, target: r.target, matchers: r.matchers, reason: r.reason, production: r.production, startsAt: r.starts_at, endsAt: r.ends_at,
  createdBy: r.created_by, changeId: r.change_id, silences: r.silences, endedAt: r.ended_at, endedBy: r.ended_by,
});

/** Opens a window; a second call with the same request key returns the first (a re-run). */
export async function openWindow(db: Queryable, w: Omit<MaintenanceWindow, 'id' | 'silences' | 'endedAt' | 'endedBy'> & { requestKey: string }): Promise<{ window: MaintenanceWindow; created: boolean }> {
  const { rows } = await db.query<Row & { created: boolean }>(
    `INSERT INTO maintenance_windows (target, matchers, reason, production, starts_at, ends_at, created_by, change_id, request_key)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
     ON CONFLICT (request_key) DO UPDATE SET request_key = EXCLUDED.request_key
     RETURNING *, (xmax = 0) AS created`,
    [w.target, JSON.stringify(w.matchers), w.reason, w.production, w.startsAt, w.endsAt, w.createdBy, w.changeId, w.requestKey],
  );
  return { window: fromRow(rows[0]!), created: rows[0]!.created };
}

export async function addSilence(db: Queryable, id: number, s: { alertmanager: string; id: string }): Promise<void> {
  await db.query(`UPDATE maintenance_windows SET silences = silences || $2::jsonb WHERE id = $1`, [id, JSON.stringify([s])]);
}

/** Closes a window once: undefined when it was already closed. */
export async function closeWindow(db: Queryable, id: number, by: string, at: Date): Promise<MaintenanceWindow | undefined> {
  const { rows } = await db.query<Row>(`UPDATE maintenance_windows SET ended_at = $3, ended_by = $2 WHERE id = $1 AND ended_at IS NULL RETURNING *`, [id, by, at]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** A window whose start failed (no silence could be made) is withdrawn as if never opened. */
export async function deleteWindow(db: Queryable, id: number): Promise<void> {
  await db.query('DELETE FROM maintenance_windows WHERE id = $1', [id]);
}

export async function getWindow(db: Queryable, id: number): Promise<MaintenanceWindow | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM maintenance_windows WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Windows open at `now`: started, not ended, not past their end. */
export async function openWindows(db: Queryable, now: Date): Promise<MaintenanceWindow[]> {
  const { rows } = await db.query<Row>(`SELECT * FROM maintenance_windows WHERE ended_at IS NULL AND starts_at <= $1 AND ends_at > $1 ORDER BY ends_at, id`, [now]);
  return rows.map(fromRow);
}
