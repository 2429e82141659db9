/**
 * Every SQL statement on the `followups` table (migration 160). Free of side effects beyond
 * the rows: no chat, no tracker calls. `followup_reminders` belongs to the reminders work.
 */
import type { Queryable } from '../db/pool.js';
import type { ExportState, Followup, FollowupSource, FollowupStatus, TrackerKind } from './model.js';

interface Row {
  id: string | number;
  incident_id: string | number;
  title: string;
  owner_user_id: string | null;
  owner_label: string | null;
  due_on: string | null;
  status: FollowupStatus;
  source: FollowupSource;
  source_event_id: string | number | null;
  request_key: string | null;
  created_by: string;
  created_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
  tracker: TrackerKind | null;
  tracker_key: string | null;
  tracker_url: string | null;
  export_state: ExportState;
  export_error: string | null;
}

// due_on as text: a date column must not travel through a time zone.
const COLUMNS = `id, incident_id, title, owner_user_id, owner_label, to_char(due_on, 'YYYY-MM-DD') AS due_on, status, source,
  source_event_id, request_key, created_by, created_at, closed_at, closed_by, tracker, tracker_key, tracker_url, export_state, export_error`;

const fromRow = (r: Row): Followup => ({
  id: Number(r.id), incidentId: Number(r.incident_id), title: r.title, ownerUserId: r.owner_user_id, ownerLabel: r.owner_label,
  dueOn: r.due_on, status: r.status, source: r.source, sourceEventId: r.source_event_id === null ? null : Number(r.source_event_id),
  requestKey: r.request_key, createdBy: r.created_by, createdAt: r.created_at, closedAt: r.closed_at, closedBy: r.closed_by,
  tracker: r.tracker, trackerKey: r.tracker_key, trackerUrl: r.tracker_url, exportState: r.export_state, exportError: r.export_error,
});

export interface NewFollowup {
  incidentId: number;
  title: string;
  ownerUserId?: string | null;
  ownerLabel?: string | null;
  dueOn?: string | null;
  source: FollowupSource;
  /** The note's event: one follow-up per note however often it is read. */
  sourceEventId?: number | null;
  /** The chat request that asked for it: one follow-up per request however often it is retried. */
  requestKey?: string | null;
  createdBy: string;
  createdAt: Date;
  /** Set when a tracker is configured: the export job picks it up. */
  tracker?: TrackerKind | null;
}

/**
 * Inserts once: a second insert for the same note event or request returns the first row
 * with `created: false`.
 */
export async function insertFollowup(db: Queryable, f: NewFollowup): Promise<{ followup: Followup; created: boolean }> {
  const r = await db.query<Row>(
    `INSERT INTO followups (incident_id, title, owner_user_id, owner_label, due_on, source, source_event_id, request_key, created_by, created_at, tracker, export_state)
     VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8, $9, $10, $11, CASE WHEN $11::text IS NULL THEN 'none' ELSE 'pending' END)
     ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    [f.incidentId, f.title, f.ownerUserId ?? null, f.ownerLabel ?? null, f.dueOn ?? null, f.source, f.sourceEventId ?? null, f.requestKey ?? null, f.createdBy, f.createdAt, f.tracker ?? null],
  );
  if (r.rows[0]) return { followup: fromRow(r.rows[0]), created: true };
  const existing = await db.query<Row>(
    `SELECT ${COLUMNS} FROM followups WHERE ($1::bigint IS NOT NULL AND source_event_id = $1) OR ($2::text IS NOT NULL AND request_key = $2) LIMIT 1`,
    [f.sourceEventId ?? null, f.requestKey ?? null],
  );
  if (!existing.rows[0]) throw new Error('follow-up insert conflicted with no row to return');
  return { followup: fromRow(existing.rows[0]), created: false };
}

export async function getFollowup(db: Queryable, id: number): Promise<Followup | undefined> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE id = $1`, [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** The note events that already have their follow-up, of one incident. */
export async function sourceEventIds(db: Queryable, incidentId: number): Promise<Set<number>> {
  const r = await db.query<{ source_event_id: string }>(`SELECT source_event_id FROM followups WHERE incident_id = $1 AND source_event_id IS NOT NULL`, [incidentId]);
  return new Set(r.rows.map((x) => Number(x.source_event_id)));
}

/** One incident's follow-ups, oldest first. */
export async function listForIncident(db: Queryable, incidentId: number): Promise<Followup[]> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE incident_id = $1 ORDER BY id`, [incidentId]);
  return r.rows.map(fromRow);
}

/** Open follow-ups owned by a chat user, soonest due first (no date last). */
export async function listOpenByOwner(db: Queryable, userId: string): Promise<Followup[]> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE status = 'open' AND owner_user_id = $1 ORDER BY due_on NULLS LAST, id`, [userId]);
  return r.rows.map(fromRow);
}

/** Every open follow-up, soonest due first. */
export async function listOpen(db: Queryable): Promise<Followup[]> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE status = 'open' ORDER BY due_on NULLS LAST, id`);
  return r.rows.map(fromRow);
}

/** Open follow-ups whose due date (a whole UTC day) is before `now`'s day. */
export async function listOverdue(db: Queryable, now: Date): Promise<Followup[]> {
  const r = await db.query<Row>(
    `SELECT ${COLUMNS} FROM followups WHERE status = 'open' AND due_on < ($1::timestamptz AT TIME ZONE 'UTC')::date ORDER BY due_on, id`,
    [now],
  );
  return r.rows.map(fromRow);
}

/** Follow-ups waiting for their export (never tried, or failed): the retry sweep's list. */
export async function listUnexported(db: Queryable): Promise<Followup[]> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE export_state IN ('pending', 'failed') AND status = 'open' ORDER BY id LIMIT 500`);
  return r.rows.map(fromRow);
}

/** Exported follow-ups whose tracker state may still change what Firebreak shows: the poll's list. */
export async function listOpenExported(db: Queryable, tracker: TrackerKind): Promise<Followup[]> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE export_state = 'exported' AND tracker = $1 AND status = 'open' ORDER BY id LIMIT 500`, [tracker]);
  return r.rows.map(fromRow);
}

export async function byTrackerKey(db: Queryable, tracker: TrackerKind, key: string): Promise<Followup | undefined> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM followups WHERE tracker = $1 AND tracker_key = $2`, [tracker, key]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** Queues an export of a follow-up made before a tracker was configured (or one whose tracker changed). */
export async function markExportPending(db: Queryable, id: number, tracker: TrackerKind): Promise<void> {
  await db.query(`UPDATE followups SET tracker = $2, export_state = 'pending', export_error = NULL WHERE id = $1 AND export_state <> 'exported'`, [id, tracker]);
}

/** The tracker made (or already had) the issue: its key and link. */
export async function recordExported(db: Queryable, id: number, key: string, url: string): Promise<Followup | undefined> {
  const r = await db.query<Row>(
    `UPDATE followups SET tracker_key = $2, tracker_url = $3, export_state = 'exported', export_error = NULL WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, key, url],
  );
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** An export attempt failed: the reason is kept for the listing; `final` when no automatic retry is queued. */
export async function recordExportError(db: Queryable, id: number, error: string, final: boolean): Promise<void> {
  await db.query(
    `UPDATE followups SET export_error = $2, export_state = CASE WHEN $3 THEN 'failed' ELSE 'pending' END WHERE id = $1 AND export_state <> 'exported'`,
    [id, error.slice(0, 500), final],
  );
}

/** Closes an open follow-up; undefined when it was not open (already done: a repeated close changes nothing). */
export async function closeFollowup(db: Queryable, id: number, status: 'done' | 'cancelled', by: string, at: Date, trackerAt: Date | null = null): Promise<Followup | undefined> {
  const r = await db.query<Row>(
    `UPDATE followups SET status = $2, closed_by = $3, closed_at = $4, tracker_state_at = COALESCE($5, tracker_state_at)
      WHERE id = $1 AND status = 'open' AND ${notOlder('$5')} RETURNING ${COLUMNS}`,
    [id, status, by, at, trackerAt],
  );
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/**
 * Whether an issue state the tracker dated `trackerAt` is newer than the last one applied (by the
 * tracker's clock): a replayed or late webhook never undoes a later close or reopen. Undated
 * states (a person in Firebreak) always apply.
 */
const notOlder = (at: string) => `(${at}::timestamptz IS NULL OR tracker_state_at IS NULL OR tracker_state_at < ${at}::timestamptz)`;

/** Records the tracker time of a state the follow-up already had, so older events stay behind it. */
export async function noteTrackerStateAt(db: Queryable, id: number, trackerAt: Date): Promise<void> {
  await db.query(`UPDATE followups SET tracker_state_at = $2 WHERE id = $1 AND (tracker_state_at IS NULL OR tracker_state_at < $2)`, [id, trackerAt]);
}

/** Opens a closed follow-up again (its issue was reopened); undefined when it was open already. */
export async function reopenFollowup(db: Queryable, id: number, trackerAt: Date | null): Promise<Followup | undefined> {
  const r = await db.query<Row>(
    `UPDATE followups SET status = 'open', closed_by = NULL, closed_at = NULL, tracker_state_at = COALESCE($2, tracker_state_at)
      WHERE id = $1 AND status <> 'open' AND ${notOlder('$2')} RETURNING ${COLUMNS}`,
    [id, trackerAt],
  );
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}
