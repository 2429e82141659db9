import type { Queryable } from '../db/pool.js';
import type { ComponentState, PublicIncident, PublicStatus, PublicUpdate } from './model.js';

/* SQL for the public status page; no side effects beyond the rows written. */

export interface StatusIncident {
  id: number;
  incidentId: number | null;
  title: string;
  status: PublicStatus;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  remoteId: string | null;
}

export interface StoredUpdate extends PublicUpdate {
  statusIncidentId: number;
  changeId: number | null;
  remoteSyncedAt: Date | null;
}

interface IncidentRow {
  id: string; incident_id: string | null; title: string; status: PublicStatus; created_at: Date; updated_at: Date; resolved_at: Date | null; remote_id: string | null;
}
interface UpdateRow {
  id: string; status_incident_id: string; status: PublicStatus; body: string; components: Record<string, ComponentState>; published_at: Date;
  change_id: string | null; remote_synced_at: Date | null;
}

const incidentFrom = (r: IncidentRow): StatusIncident => ({
  id: Number(r.id), incidentId: r.incident_id === null ? null : Number(r.incident_id), title: r.title, status: r.status,
  createdAt: r.created_at, updatedAt: r.updated_at, resolvedAt: r.resolved_at, remoteId: r.remote_id,
});
const updateFrom = (r: UpdateRow): StoredUpdate => ({
  id: Number(r.id), statusIncidentId: Number(r.status_incident_id), status: r.status, body: r.body, components: r.components,
  publishedAt: r.published_at, changeId: r.change_id === null ? null : Number(r.change_id), remoteSyncedAt: r.remote_synced_at,
});

export async function statusIncidentFor(db: Queryable, incidentId: number): Promise<StatusIncident | undefined> {
  const { rows } = await db.query<IncidentRow>('SELECT * FROM status_incidents WHERE incident_id = $1', [incidentId]);
  return rows[0] ? incidentFrom(rows[0]) : undefined;
}

export async function getStatusIncident(db: Queryable, id: number): Promise<StatusIncident | undefined> {
  const { rows } = await db.query<IncidentRow>('SELECT * FROM status_incidents WHERE id = $1', [id]);
  return rows[0] ? incidentFrom(rows[0]) : undefined;
}

/** The update a change request published, if it ran before (a re-run publishes nothing twice). */
export async function updateByChange(db: Queryable, changeId: number): Promise<StoredUpdate | undefined> {
  const { rows } = await db.query<UpdateRow>('SELECT * FROM status_updates WHERE change_id = $1', [changeId]);
  return rows[0] ? updateFrom(rows[0]) : undefined;
}

/**
 * The public incident of an internal one, created on its first publish and locked for the
 * rest of the transaction; title and status become the approved ones.
 */
export async function upsertStatusIncident(db: Queryable, p: { incidentId: number; title: string; status: PublicStatus; at: Date }): Promise<StatusIncident> {
  const { rows } = await db.query<IncidentRow>(
    `INSERT INTO status_incidents (incident_id, title, status, created_at, updated_at, resolved_at)
     VALUES ($1, $2, $3, $4, $4, CASE WHEN $3 = 'resolved' THEN $4::timestamptz END)
     ON CONFLICT (incident_id) DO UPDATE SET title = EXCLUDED.title, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
       resolved_at = CASE WHEN EXCLUDED.status = 'resolved' THEN COALESCE(status_incidents.resolved_at, EXCLUDED.updated_at) END
     RETURNING *`,
    [p.incidentId, p.title, p.status, p.at],
  );
  return incidentFrom(rows[0]!);
}

export async function insertUpdate(db: Queryable, u: { statusIncidentId: number; status: PublicStatus; body: string; components: Record<string, ComponentState>; at: Date; requestedBy: string; changeId: number | null }): Promise<StoredUpdate> {
  const { rows } = await db.query<UpdateRow>(
    `INSERT INTO status_updates (status_incident_id, status, body, components, published_at, requested_by, change_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [u.statusIncidentId, u.status, u.body, JSON.stringify(u.components), u.at, u.requestedBy, u.changeId],
  );
  return updateFrom(rows[0]!);
}

export async function setComponentStates(db: Queryable, states: Record<string, ComponentState>, updateId: number, at: Date): Promise<void> {
  for (const [id, state] of Object.entries(states)) {
    await db.query(
      `INSERT INTO status_components (component_id, state, updated_at, update_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (component_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, update_id = EXCLUDED.update_id`,
      [id, state, at, updateId],
    );
  }
}

export async function componentStates(db: Queryable): Promise<Map<string, { state: ComponentState; updatedAt: Date }>> {
  const { rows } = await db.query<{ component_id: string; state: ComponentState; updated_at: Date }>('SELECT component_id, state, updated_at FROM status_components');
  return new Map(rows.map((r) => [r.component_id, { state: r.state, updatedAt: r.updated_at }]));
}

/** Public incidents created or still open since `since`, newest first, with their updates oldest first. */
export async function recentIncidents(db: Queryable, since: Date): Promise<PublicIncident[]> {
  const { rows } = await db.query<IncidentRow>(
    'SELECT * FROM status_incidents WHERE created_at >= $1 OR resolved_at IS NULL OR resolved_at >= $1 ORDER BY created_at DESC, id DESC LIMIT 500',
    [since],
  );
  return withUpdates(db, rows.map(incidentFrom));
}

/** One public incident by its stable id, whatever its age. */
export async function publicIncident(db: Queryable, id: number): Promise<PublicIncident | undefined> {
  const i = await getStatusIncident(db, id);
  return i ? (await withUpdates(db, [i]))[0] : undefined;
}

async function withUpdates(db: Queryable, incidents: StatusIncident[]): Promise<PublicIncident[]> {
  if (incidents.length === 0) return [];
  const { rows } = await db.query<UpdateRow>('SELECT * FROM status_updates WHERE status_incident_id = ANY($1::bigint[]) ORDER BY id', [incidents.map((i) => i.id)]);
  const by = new Map<number, PublicUpdate[]>();
  for (const r of rows) {
    const u = updateFrom(r);
    const list = by.get(u.statusIncidentId) ?? [];
    list.push({ id: u.id, status: u.status, body: u.body, components: u.components, publishedAt: u.publishedAt });
    by.set(u.statusIncidentId, list);
  }
  return incidents.map((i) => ({ id: i.id, title: i.title, status: i.status, createdAt: i.createdAt, updatedAt: i.updatedAt, resolvedAt: i.resolvedAt, updates: by.get(i.id) ?? [] }));
}

/** Updates of a public incident not yet on Atlassian Statuspage, oldest first. */
export async function unsyncedUpdates(db: Queryable, statusIncidentId: number): Promise<StoredUpdate[]> {
  const { rows } = await db.query<UpdateRow>('SELECT * FROM status_updates WHERE status_incident_id = $1 AND remote_synced_at IS NULL ORDER BY id', [statusIncidentId]);
  return rows.map(updateFrom);
}

export async function markSynced(db: Queryable, updateId: number, at: Date): Promise<void> {
  await db.query('UPDATE status_updates SET remote_synced_at = $2 WHERE id = $1 AND remote_synced_at IS NULL', [updateId, at]);
}

export async function setRemoteId(db: Queryable, statusIncidentId: number, remoteId: string): Promise<void> {
  await db.query('UPDATE status_incidents SET remote_id = $2 WHERE id = $1', [statusIncidentId, remoteId]);
}
