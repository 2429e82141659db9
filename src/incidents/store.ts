import type { Queryable } from '../db/pool.js';
import type { Severity } from './config.js';
import type { Incident, IncidentStatus } from './model.js';

interface IncidentRow {
  id: number; title: string; severity: Severity; status: IncidentStatus; summary: string | null; service: string | null;
  declared_by: string; commander: string | null; comms_lead: string | null; tech_lead: string | null;
  channel_id: string | null; channel_name: string | null; headline_ts: string | null; setup_errors: Record<string, string>;
  declared_at: Date; acknowledged_at: Date | null; identified_at: Date | null; mitigated_at: Date | null; resolved_at: Date | null;
  last_update_at: Date | null; missed_reminders: number;
}

export function incidentFromRow(r: IncidentRow): Incident {
  return {
    id: r.id, title: r.title, severity: r.severity, status: r.status, summary: r.summary, service: r.service,
    declaredBy: r.declared_by, commander: r.commander, commsLead: r.comms_lead, techLead: r.tech_lead,
    channelId: r.channel_id, channelName: r.channel_name, headlineTs: r.headline_ts, setupErrors: r.setup_errors ?? {},
    declaredAt: r.declared_at, acknowledgedAt: r.acknowledged_at, identifiedAt: r.identified_at,
    mitigatedAt: r.mitigated_at, resolvedAt: r.resolved_at, lastUpdateAt: r.last_update_at ?? null, missedReminders: r.missed_reminders ?? 0,
  };
}

export interface NewIncident {
  title: string;
  severity: Severity;
  summary?: string | null;
  service?: string | null;
  declaredBy: string;
  commander?: string | null;
  declaredAt: Date;
  declareKey?: string | null;
}

/** Inserts unless the declare key was used before; returns undefined on that conflict. */
export async function insertIncident(db: Queryable, i: NewIncident): Promise<Incident | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `INSERT INTO incidents (title, severity, summary, service, declared_by, commander, declared_at, declare_key)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (declare_key) DO NOTHING RETURNING *`,
    [i.title, i.severity, i.summary ?? null, i.service ?? null, i.declaredBy, i.commander ?? null, i.declaredAt, i.declareKey ?? null],
  );
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}

export async function getIncident(db: Queryable, id: number): Promise<Incident | undefined> {
  const { rows } = await db.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1', [id]);
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}

export async function incidentByDeclareKey(db: Queryable, key: string): Promise<Incident | undefined> {
  const { rows } = await db.query<IncidentRow>('SELECT * FROM incidents WHERE declare_key = $1', [key]);
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}

export async function incidentByChannel(db: Queryable, channelId: string): Promise<Incident | undefined> {
  const { rows } = await db.query<IncidentRow>('SELECT * FROM incidents WHERE channel_id = $1', [channelId]);
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}

/** An open incident the same person declared with the same title within the window: a double submission. */
export async function recentDuplicate(db: Queryable, declaredBy: string, title: string, since: Date): Promise<Incident | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE declared_by = $1 AND lower(title) = lower($2) AND declared_at >= $3 AND status <> 'resolved'
     ORDER BY id DESC LIMIT 1`,
    [declaredBy, title, since],
  );
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}

export async function openIncidents(db: Queryable): Promise<Incident[]> {
  const { rows } = await db.query<IncidentRow>("SELECT * FROM incidents WHERE status <> 'resolved' ORDER BY id");
  return rows.map(incidentFromRow);
}

const COLUMNS: Record<string, string> = {
  title: 'title', severity: 'severity', status: 'status', summary: 'summary', service: 'service',
  commander: 'commander', commsLead: 'comms_lead', techLead: 'tech_lead', channelId: 'channel_id',
  channelName: 'channel_name', headlineTs: 'headline_ts', setupErrors: 'setup_errors',
  acknowledgedAt: 'acknowledged_at', identifiedAt: 'identified_at', mitigatedAt: 'mitigated_at', resolvedAt: 'resolved_at',
  lastUpdateAt: 'last_update_at', missedReminders: 'missed_reminders',
};

export type IncidentPatch = Partial<Omit<Incident, 'id' | 'declaredBy' | 'declaredAt'>>;

export async function updateIncident(db: Queryable, id: number, patch: IncidentPatch): Promise<Incident> {
  const keys = Object.keys(patch).filter((k) => k in COLUMNS);
  if (keys.length === 0) return (await getIncident(db, id))!;
  const sets = keys.map((k, i) => `${COLUMNS[k]} = $${i + 2}`);
  const values = keys.map((k) => {
    const v = patch[k as keyof IncidentPatch];
    return k === 'setupErrors' ? JSON.stringify(v) : v;
  });
  const { rows } = await db.query<IncidentRow>(`UPDATE incidents SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, [id, ...values]);
  return incidentFromRow(rows[0]!);
}

/** Adds people to the known members of the incident channel; returns who was new. */
export async function addMembers(db: Queryable, incidentId: number, userIds: string[], via: string, at: Date): Promise<string[]> {
  if (userIds.length === 0) return [];
  const { rows } = await db.query<{ user_id: string }>(
    `INSERT INTO incident_members (incident_id, user_id, via, added_at)
     SELECT $1, u, $3, $4 FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING RETURNING user_id`,
    [incidentId, userIds, via, at],
  );
  return rows.map((r) => r.user_id);
}

export async function isMember(db: Queryable, incidentId: number, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM incident_members WHERE incident_id = $1 AND user_id = $2', [incidentId, userId]);
  return (rowCount ?? 0) > 0;
}

/** Claims a pinned message for the timeline; false when it already has its entry. */
export async function claimPin(db: Queryable, incidentId: number, messageTs: string, at: Date): Promise<boolean> {
  const r = await db.query(
    'INSERT INTO incident_pins (incident_id, message_ts, pinned_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING',
    [incidentId, messageTs, at],
  );
  return r.rowCount === 1;
}

export async function pinExists(db: Queryable, incidentId: number, messageTs: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM incident_pins WHERE incident_id = $1 AND message_ts = $2', [incidentId, messageTs]);
  return (rowCount ?? 0) > 0;
}

export interface StoredPostmortem {
  incidentId: number;
  version: number;
  markdown: string;
  generatedBy: string;
  generatedAt: Date;
}

export async function savePostmortem(db: Queryable, incidentId: number, markdown: string, generatedBy: string, at: Date): Promise<StoredPostmortem> {
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO postmortems (incident_id, version, markdown, generated_by, generated_at)
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM postmortems WHERE incident_id = $1
     RETURNING version`,
    [incidentId, markdown, generatedBy, at],
  );
  return { incidentId, version: rows[0]!.version, markdown, generatedBy, generatedAt: at };
}

export async function postmortemVersion(db: Queryable, incidentId: number, version: number): Promise<StoredPostmortem | undefined> {
  const { rows } = await db.query<{ incident_id: number; version: number; markdown: string; generated_by: string; generated_at: Date }>(
    'SELECT * FROM postmortems WHERE incident_id = $1 AND version = $2',
    [incidentId, version],
  );
  const r = rows[0];
  return r ? { incidentId: r.incident_id, version: r.version, markdown: r.markdown, generatedBy: r.generated_by, generatedAt: r.generated_at } : undefined;
}

export async function latestPostmortem(db: Queryable, incidentId: number): Promise<StoredPostmortem | undefined> {
  const { rows } = await db.query<{ incident_id: number; version: number; markdown: string; generated_by: string; generated_at: Date }>(
    'SELECT * FROM postmortems WHERE incident_id = $1 ORDER BY version DESC LIMIT 1',
    [incidentId],
  );
  const r = rows[0];
  return r ? { incidentId: r.incident_id, version: r.version, markdown: r.markdown, generatedBy: r.generated_by, generatedAt: r.generated_at } : undefined;
}

/**
 * Whether something that must happen once (a Slack request by its key, a PagerDuty webhook by
 * its event id) already left its event on this incident: a job re-run after a crash must not
 * add it twice.
 */
export async function hasEventMarked(db: Queryable, incidentId: number, field: 'requestKey' | 'pdEventId', value: string): Promise<boolean> {
  return !!(await eventMarked(db, incidentId, field, value));
}

/** The payload of the event `hasEventMarked` finds, to redo what followed it the same way. */
export async function eventMarked(db: Queryable, incidentId: number, field: 'requestKey' | 'pdEventId', value: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await db.query<{ payload: Record<string, unknown> }>(`SELECT payload FROM events WHERE incident_id = $1 AND payload->>'${field}' = $2 ORDER BY id LIMIT 1`, [incidentId, value]);
  return rows[0]?.payload;
}

/** Serialises transactions on the same key (racing declares, post-mortem versions) until commit. */
export async function lockKey(db: Queryable, key: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
}

/** Locks the incident's row until commit; false when there is no such incident. */
export async function lockIncident(db: Queryable, id: number): Promise<boolean> {
  const { rows } = await db.query('SELECT id FROM incidents WHERE id = $1 FOR UPDATE', [id]);
  return rows.length > 0;
}

/** Sets acknowledged_at the first time only; false when it was already set (or no incident). */
export async function markAcknowledged(db: Queryable, id: number, at: Date): Promise<boolean> {
  const { rows } = await db.query<{ id: number }>('UPDATE incidents SET acknowledged_at = $2 WHERE id = $1 AND acknowledged_at IS NULL RETURNING id', [id, at]);
  return rows.length > 0;
}

export async function hasEventOfType(db: Queryable, incidentId: number, type: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM events WHERE incident_id = $1 AND type = $2', [incidentId, type]);
  return (rowCount ?? 0) > 0;
}

/** Whether the person commands an incident that is not resolved (they may stop risky work). */
export async function commandsOpenIncident(db: Queryable, userId: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM incidents WHERE commander = $1 AND status <> 'resolved' LIMIT 1`, [userId]);
  return rows.length > 0;
}

/**
 * Locks the incident if it is still in the state a reminder was scheduled for (same missed
 * count, same last update, not resolved); undefined when an update, a resolve or another
 * copy of the reminder came first.
 */
export async function lockForReminder(db: Queryable, id: number, missed: number, base: Date): Promise<Incident | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT * FROM incidents WHERE id = $1 AND missed_reminders = $2 AND COALESCE(last_update_at, declared_at) = $3
       AND status <> 'resolved' FOR UPDATE`,
    [id, missed, base],
  );
  return rows[0] ? incidentFromRow(rows[0]) : undefined;
}
