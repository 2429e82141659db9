import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import type { Labels } from './matchers.js';
import type { AlertGroup, IncomingAlert, StoredAlert } from './model.js';

/*
 * SQL for the alerts area, free of side effects beyond the rows it writes.
 */

// A firing re-delivery of an occurrence already resolved (same or older start) is stale:
// HA pairs and retries must not bring a resolved alert back.
const STALE = `(alerts.status = 'resolved' AND EXCLUDED.status = 'firing' AND EXCLUDED.starts_at <= alerts.starts_at)`;
const CHANGED = `(alerts.status IS DISTINCT FROM EXCLUDED.status OR alerts.annotations IS DISTINCT FROM EXCLUDED.annotations OR alerts.starts_at IS DISTINCT FROM EXCLUDED.starts_at)`;

const INGEST_SQL = `
INSERT INTO alerts (source, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, first_received_at, last_received_at)
SELECT s, f, st, l, a, sa, ea, g, $9, $9
  FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[], $7::timestamptz[], $8::text[]) AS t(s, f, st, l, a, sa, ea, g)
ON CONFLICT (source, fingerprint) DO UPDATE SET
  last_received_at = EXCLUDED.last_received_at,
  received_count   = alerts.received_count + 1,
  status      = CASE WHEN ${STALE} THEN alerts.status ELSE EXCLUDED.status END,
  labels      = CASE WHEN ${STALE} THEN alerts.labels ELSE EXCLUDED.labels END,
  annotations = CASE WHEN ${STALE} THEN alerts.annotations ELSE EXCLUDED.annotations END,
  starts_at   = CASE WHEN ${STALE} THEN alerts.starts_at ELSE EXCLUDED.starts_at END,
  ends_at     = CASE WHEN ${STALE} THEN alerts.ends_at ELSE EXCLUDED.ends_at END,
  generator_url = COALESCE(EXCLUDED.generator_url, alerts.generator_url),
  rev         = CASE WHEN NOT ${STALE} AND ${CHANGED} THEN alerts.rev + 1 ELSE alerts.rev END
RETURNING (xmax = 0) AS inserted`;

export interface IngestResult {
  accepted: number;
  /** Alerts seen for the first time. */
  new: number;
  /** Alerts already stored (re-deliveries, the other half of an HA pair, updates). */
  known: number;
}

/** Stores a webhook's alerts in one statement; later duplicates in the same batch win. */
export async function storeAlerts(db: Queryable, alerts: IncomingAlert[], receivedAt: Date): Promise<IngestResult> {
  const unique = new Map<string, IncomingAlert>();
  for (const a of alerts) unique.set(`${a.source}\u0000${a.fingerprint}`, a);
  const list = [...unique.values()];
  if (list.length === 0) return { accepted: 0, new: 0, known: 0 };
  const { rows } = await db.query<{ inserted: boolean }>({
    name: 'alerts_ingest',
    text: INGEST_SQL,
    values: [
      list.map((a) => a.source),
      list.map((a) => a.fingerprint),
      list.map((a) => a.status),
      list.map((a) => JSON.stringify(a.labels)),
      list.map((a) => JSON.stringify(a.annotations)),
      list.map((a) => a.startsAt),
      list.map((a) => a.endsAt),
      list.map((a) => a.generatorUrl),
      receivedAt,
    ],
  });
  const created = rows.filter((r) => r.inserted).length;
  return { accepted: alerts.length, new: created, known: alerts.length - created };
}

export interface PendingAlert {
  id: number;
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Labels;
  rev: number;
}

/** Alerts whose latest change routing has not seen yet; locked so replicas split the work. */
export async function claimUnprocessed(c: pg.PoolClient, limit: number): Promise<PendingAlert[]> {
  const { rows } = await c.query<PendingAlert>(
    `SELECT id, fingerprint, status, labels, rev FROM alerts WHERE rev <> processed_rev ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows;
}

export async function markProcessed(c: Queryable, alerts: PendingAlert[]): Promise<void> {
  await c.query(
    `UPDATE alerts SET processed_rev = v.rev FROM unnest($1::bigint[], $2::int[]) AS v(id, rev) WHERE alerts.id = v.id`,
    [alerts.map((a) => a.id), alerts.map((a) => a.rev)],
  );
}

export interface GroupSeed {
  groupKey: string;
  routeKey: string;
  channel: string;
  groupLabels: Labels;
}

/** Creates missing groups and bumps the version of existing ones (they changed). */
export async function upsertGroups(c: Queryable, seeds: GroupSeed[], now: Date): Promise<Map<string, AlertGroup>> {
  const { rows } = await c.query<GroupRow>(
    `INSERT INTO alert_groups (group_key, route_key, channel, group_labels, created_at)
     SELECT k, r, ch, l, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS t(k, r, ch, l)
     ON CONFLICT (group_key) DO UPDATE SET version = alert_groups.version + 1, channel = EXCLUDED.channel
     RETURNING *`,
    [seeds.map((s) => s.groupKey), seeds.map((s) => s.routeKey), seeds.map((s) => s.channel), seeds.map((s) => JSON.stringify(s.groupLabels)), now],
  );
  return new Map(rows.map((r) => [r.group_key, groupFromRow(r)]));
}

export async function addMembers(c: Queryable, pairs: { groupId: number; alertId: number }[]): Promise<void> {
  if (pairs.length === 0) return;
  await c.query(
    `INSERT INTO alert_group_members (group_id, alert_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`,
    [pairs.map((p) => p.groupId), pairs.map((p) => p.alertId)],
  );
}

export interface OpenIncident {
  id: number;
  channelId: string | null;
  service: string | null;
}

export async function openIncidents(db: Queryable): Promise<OpenIncident[]> {
  const { rows } = await db.query<{ id: number; channel_id: string | null; service: string | null }>(
    `SELECT id, channel_id, service FROM incidents WHERE status <> 'resolved' ORDER BY id`,
  );
  return rows.map((r) => ({ id: r.id, channelId: r.channel_id, service: r.service }));
}

/** Returns the links that are new (each alert is reported into an incident once). */
export async function linkAlertsToIncidents(c: Queryable, links: { alertId: number; incidentId: number }[], now: Date): Promise<{ alertId: number; incidentId: number }[]> {
  if (links.length === 0) return [];
  const { rows } = await c.query<{ alert_id: number; incident_id: number }>(
    `INSERT INTO alert_incident_links (alert_id, incident_id, linked_at)
     SELECT a, i, $3 FROM unnest($1::bigint[], $2::bigint[]) AS t(a, i) ON CONFLICT DO NOTHING RETURNING alert_id, incident_id`,
    [links.map((l) => l.alertId), links.map((l) => l.incidentId), now],
  );
  return rows.map((r) => ({ alertId: r.alert_id, incidentId: r.incident_id }));
}

export interface GroupRow {
  id: number;
  group_key: string;
  route_key: string;
  channel: string;
  group_labels: Labels;
  created_at: Date;
  version: number;
  notified_version: number;
  last_notified_at: Date | null;
  incident_id: number | null;
  declares: number;
  last_declared_at: Date | null;
  all_resolved_noticed: boolean;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  silenced_until: Date | null;
  silenced_by: string | null;
}

export function groupFromRow(r: GroupRow): AlertGroup {
  return {
    id: r.id, groupKey: r.group_key, routeKey: r.route_key, channel: r.channel, groupLabels: r.group_labels, createdAt: r.created_at,
    version: r.version, notifiedVersion: r.notified_version, lastNotifiedAt: r.last_notified_at, incidentId: r.incident_id,
    declares: r.declares, lastDeclaredAt: r.last_declared_at, allResolvedNoticed: r.all_resolved_noticed,
    acknowledgedBy: r.acknowledged_by, acknowledgedAt: r.acknowledged_at, silencedUntil: r.silenced_until, silencedBy: r.silenced_by,
  };
}

export async function getGroup(db: Queryable, id: number, lock = false): Promise<AlertGroup | undefined> {
  const { rows } = await db.query<GroupRow>(`SELECT * FROM alert_groups WHERE id = $1 ${lock ? 'FOR UPDATE' : ''}`, [id]);
  return rows[0] ? groupFromRow(rows[0]) : undefined;
}

interface AlertRow {
  id: number;
  source: IncomingAlert['source'];
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Labels;
  annotations: Labels;
  starts_at: Date;
  ends_at: Date | null;
  generator_url: string | null;
  received_count: number;
  last_received_at: Date;
}

/** A group's alerts, firing first, newest first. */
export async function groupAlerts(db: Queryable, groupId: number): Promise<StoredAlert[]> {
  const { rows } = await db.query<AlertRow>(
    `SELECT a.* FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id
      WHERE m.group_id = $1 ORDER BY (a.status = 'firing') DESC, a.starts_at DESC, a.id`,
    [groupId],
  );
  return rows.map((r) => ({
    id: r.id, source: r.source, fingerprint: r.fingerprint, status: r.status, labels: r.labels, annotations: r.annotations,
    startsAt: r.starts_at, endsAt: r.ends_at, generatorUrl: r.generator_url, receivedCount: r.received_count, lastReceivedAt: r.last_received_at,
  }));
}

/** Firing alerts containing the given labels: candidate sources for an inhibit rule. */
export async function firingWithLabels(db: Queryable, contains: Labels): Promise<{ fingerprint: string; labels: Labels }[]> {
  const { rows } = await db.query<{ fingerprint: string; labels: Labels }>(
    `SELECT fingerprint, labels FROM alerts WHERE status = 'firing' AND labels @> $1::jsonb`,
    [JSON.stringify(contains)],
  );
  return rows;
}

export async function queueOutbox(db: Queryable, items: { groupId: number; channel: string; kind: 'message' | 'reminder' | 'resolved_notice' }[], now: Date): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO alert_outbox (group_id, channel, kind, queued_at, not_before)
     SELECT g, c, k, $4, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(g, c, k)
     ON CONFLICT (group_id, channel, kind) DO NOTHING`,
    [items.map((i) => i.groupId), items.map((i) => i.channel), items.map((i) => i.kind), now],
  );
}
