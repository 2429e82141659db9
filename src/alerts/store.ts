import type pg from 'pg';
import { advisoryUnlock, tryAdvisoryLock, withTransaction, type Queryable } from '../db/pool.js';
import type { Labels } from './matchers.js';
import type { AlertGroup, IncomingAlert, StoredAlert } from './model.js';

/*
 * SQL for the alerts area, free of side effects beyond the rows it writes.
 */

// A firing re-delivery of an occurrence already resolved (same or older start) is stale:
// HA pairs and retries must not bring a resolved alert back.
const STALE = `(alerts.status = 'resolved' AND EXCLUDED.status = 'firing' AND EXCLUDED.starts_at <= alerts.starts_at)`;
// A new startsAt on an alert that is still firing is not news (senders without their own
// start time stamp every re-send): the earlier start is kept and nothing is re-routed.
const CHANGED = `(alerts.status IS DISTINCT FROM EXCLUDED.status OR alerts.annotations IS DISTINCT FROM EXCLUDED.annotations)`;
const STILL_FIRING = `(alerts.status = 'firing' AND EXCLUDED.status = 'firing')`;

const INGEST_SQL = `
WITH up AS (
  INSERT INTO alerts (source, fingerprint, status, labels, annotations, starts_at, ends_at, generator_url, first_received_at, last_received_at)
  SELECT s, f, st, l, a, sa, ea, g, $9, $9
    FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[], $7::timestamptz[], $8::text[]) AS t(s, f, st, l, a, sa, ea, g)
  ON CONFLICT (source, fingerprint) DO UPDATE SET
    last_received_at = EXCLUDED.last_received_at,
    received_count   = alerts.received_count + 1,
    status      = CASE WHEN ${STALE} THEN alerts.status ELSE EXCLUDED.status END,
    labels      = CASE WHEN ${STALE} THEN alerts.labels ELSE EXCLUDED.labels END,
    annotations = CASE WHEN ${STALE} THEN alerts.annotations ELSE EXCLUDED.annotations END,
    starts_at   = CASE WHEN ${STALE} THEN alerts.starts_at WHEN ${STILL_FIRING} THEN LEAST(alerts.starts_at, EXCLUDED.starts_at) ELSE EXCLUDED.starts_at END,
    ends_at     = CASE WHEN ${STALE} THEN alerts.ends_at ELSE EXCLUDED.ends_at END,
    generator_url = COALESCE(EXCLUDED.generator_url, alerts.generator_url),
    changed_xid = CASE WHEN NOT ${STALE} AND ${CHANGED} THEN pg_current_xact_id() ELSE alerts.changed_xid END
  RETURNING id, source, fingerprint, (xmax = 0) AS inserted, changed_xid = pg_current_xact_id() AS changed
), queued AS (
  INSERT INTO alert_pending (alert_id) SELECT id FROM up WHERE changed
)
SELECT source, fingerprint, inserted, changed FROM up`;

export interface IngestResult {
  accepted: number;
  /** Alerts seen for the first time. */
  new: number;
  /** Alerts already stored (re-deliveries, the other half of an HA pair, updates). */
  known: number;
  /** Known alerts that changed nothing: re-deliveries and HA pairs. */
  duplicates: number;
}

/**
 * Stores several webhooks' alerts in one statement (one commit for all of them) and tells each
 * request what happened to its alerts. Within the statement a (source, fingerprint) appears once
 * (the last one sent wins), sorted so concurrent statements lock rows in the same order and
 * cannot deadlock (HA Alertmanager pairs send the same alerts at the same moment).
 */
export async function storeAlertBatches(db: Queryable, requests: IncomingAlert[][], receivedAt: Date): Promise<IngestResult[]> {
  const key = (a: IncomingAlert) => `${a.source}\u0000${a.fingerprint}`;
  const unique = new Map<string, IncomingAlert>();
  for (const list of requests) for (const a of list) unique.set(key(a), a);
  const list = [...unique.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, a]) => a);
  if (list.length === 0) return requests.map(() => ({ accepted: 0, new: 0, known: 0, duplicates: 0 }));
  const { rows } = await db.query<{ source: string; fingerprint: string; inserted: boolean; changed: boolean }>({
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
  const outcome = new Map(rows.map((r) => [`${r.source}\u0000${r.fingerprint}`, r]));
  // The first request to mention a new alert created it; any later mention is a duplicate.
  const seen = new Set<string>();
  return requests.map((alerts) => {
    const r: IngestResult = { accepted: alerts.length, new: 0, known: 0, duplicates: 0 };
    for (const a of alerts) {
      const k = key(a);
      const o = outcome.get(k);
      if (o?.inserted && !seen.has(k)) r.new++;
      else {
        r.known++;
        if (seen.has(k) || !o?.changed) r.duplicates++;
      }
      seen.add(k);
    }
    return r;
  });
}

export interface PendingAlert {
  id: number;
  source: IncomingAlert['source'];
  fingerprint: string;
  annotations: Labels;
  status: 'firing' | 'resolved';
  labels: Labels;
  last_received_at: Date;
}

/**
 * Takes alerts whose latest change routing has not seen. Inside the caller's transaction:
 * a rollback gives them back, and SKIP LOCKED lets replicas split the work.
 */
export async function claimUnprocessed(c: pg.PoolClient, limit: number): Promise<PendingAlert[]> {
  const { rows } = await c.query<PendingAlert>(
    `WITH claimed AS (
       DELETE FROM alert_pending WHERE ctid IN (SELECT ctid FROM alert_pending LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING alert_id)
     SELECT a.id, a.source, a.fingerprint, a.status, a.labels, a.annotations, a.last_received_at
       FROM alerts a WHERE a.id IN (SELECT alert_id FROM claimed) ORDER BY a.id`,
    [limit],
  );
  return rows;
}

export interface GroupSeed {
  /** When the first of its alerts arrived: group_wait counts from here, as in Alertmanager. */
  createdAt: Date;
  groupKey: string;
  routeKey: string;
  channel: string;
  groupLabels: Labels;
}

/** Creates missing groups and bumps the version of existing ones (they changed). */
export async function upsertGroups(c: Queryable, seeds: GroupSeed[]): Promise<Map<string, AlertGroup>> {
  const { rows } = await c.query<GroupRow>(
    `INSERT INTO alert_groups (group_key, route_key, channel, group_labels, created_at)
     SELECT k, r, ch, l, ca FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[]) AS t(k, r, ch, l, ca)
     ON CONFLICT (group_key) DO UPDATE SET version = alert_groups.version + 1, channel = EXCLUDED.channel
     RETURNING *`,
    [seeds.map((s) => s.groupKey), seeds.map((s) => s.routeKey), seeds.map((s) => s.channel), seeds.map((s) => JSON.stringify(s.groupLabels)), seeds.map((s) => s.createdAt)],
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
  escalated_at: Date | null;
  unacknowledged_at: Date | null;
}

export function groupFromRow(r: GroupRow): AlertGroup {
  return {
    id: r.id, groupKey: r.group_key, routeKey: r.route_key, channel: r.channel, groupLabels: r.group_labels, createdAt: r.created_at,
    version: r.version, notifiedVersion: r.notified_version, lastNotifiedAt: r.last_notified_at, incidentId: r.incident_id,
    declares: r.declares, lastDeclaredAt: r.last_declared_at, allResolvedNoticed: r.all_resolved_noticed,
    acknowledgedBy: r.acknowledged_by, acknowledgedAt: r.acknowledged_at, silencedUntil: r.silenced_until, silencedBy: r.silenced_by, escalatedAt: r.escalated_at,
    unacknowledgedAt: r.unacknowledged_at,
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

export type OutboxKind = 'message' | 'reminder';

export interface OutboxItem {
  groupId: number;
  channel: string;
  kind: OutboxKind;
  notBefore: Date;
}

/**
 * Queues something to say. A row already waiting keeps the earlier time (changes coalesce
 * into it, as Alertmanager batches a group's changes until the next flush); `reschedule`
 * replaces the time instead (reminders restart their repeat_interval).
 */
/** The alert groups attached to an incident. */
export async function groupsOfIncident(db: Queryable, incidentId: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM alert_groups WHERE incident_id = $1 ORDER BY id', [incidentId]);
  return rows.map((r) => Number(r.id));
}

export async function queueOutbox(db: Queryable, items: OutboxItem[], now: Date, reschedule = false): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO alert_outbox (group_id, channel, kind, queued_at, not_before)
     SELECT g, c, k, $5, nb FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS t(g, c, k, nb)
     ON CONFLICT (group_id, channel, kind) DO UPDATE SET queued_seq = alert_outbox.queued_seq + 1,
        not_before = ${reschedule ? 'EXCLUDED.not_before' : 'LEAST(alert_outbox.not_before, EXCLUDED.not_before)'}`,
    [items.map((i) => i.groupId), items.map((i) => i.channel), items.map((i) => i.kind), items.map((i) => i.notBefore), now],
  );
}

export async function deleteOutbox(db: Queryable, groupId: number, channel: string, kind: OutboxKind): Promise<void> {
  await db.query('DELETE FROM alert_outbox WHERE group_id = $1 AND channel = $2 AND kind = $3', [groupId, channel, kind]);
}

/**
 * One send attempt on its outbox row: the row's key, the attempt's own id (claimOutbox's `by`) and
 * how often the row had been queued when the attempt claimed it (clearPendingMessage).
 */
export interface OutboxAttempt {
  groupId: number;
  channel: string;
  kind: OutboxKind;
  by: string;
  queued: string;
}

/**
 * The one rule for an attempt's writes to its row ($1..$4: group, channel, kind, attempt): only
 * while the row is still its claim. An attempt that outlived its claim (no renewal for
 * POST_CLAIM_MS) finds the row claimed by another attempt, or released by it, or dropped and queued
 * again by a change it never saw; a late failure deferred or deleted that row by its key alone.
 * "Or unclaimed" would not do: a row another attempt released, or queued anew, is unclaimed too.
 */
const HELD_ROW = 'group_id = $1 AND channel = $2 AND kind = $3 AND posting_by = $4';
const held = (a: OutboxAttempt) => [a.groupId, a.channel, a.kind, a.by];

/** Drops the attempt's row (nothing to say, or nowhere to say it) if it still holds it. */
export async function dropOutbox(db: Queryable, a: OutboxAttempt): Promise<void> {
  await db.query(`DELETE FROM alert_outbox WHERE ${HELD_ROW}`, held(a));
}

export async function deferOutbox(db: Queryable, a: OutboxAttempt, until: Date, error?: string): Promise<void> {
  await db.query(
    `UPDATE alert_outbox SET not_before = $5, attempts = attempts + ${error ? 1 : 0}, last_error = COALESCE($6, last_error) WHERE ${HELD_ROW}`,
    [...held(a), until, error ?? null],
  );
}

/** What an attempt records before it posts, so a later one knows a message may already exist. */
export const POSTING = 'posting';

export async function markPosting(db: Queryable, a: OutboxAttempt): Promise<void> {
  await db.query(`UPDATE alert_outbox SET last_error = $5 WHERE ${HELD_ROW}`, [...held(a), POSTING]);
}

/**
 * Claims a due outbox row until `until` for one attempt (`by`, its own id), whatever replica or
 * flush holds the lock; undefined when it is no longer due or another attempt holds it. Returns
 * the row's attempts and last error as the claim found them.
 */
export async function claimOutbox(db: Queryable, groupId: number, channel: string, kind: OutboxKind, now: Date, until: Date, by: string): Promise<{ attempts: number; lastError: string | null; queued: string } | undefined> {
  const { rows } = await db.query<{ attempts: number; last_error: string | null; queued_seq: string }>(
    `UPDATE alert_outbox SET posting_until = $5, posting_by = $6
      WHERE group_id = $1 AND channel = $2 AND kind = $3 AND not_before <= $4 AND (posting_until IS NULL OR posting_until <= $4)
      RETURNING attempts, last_error, queued_seq`,
    [groupId, channel, kind, now, until, by],
  );
  return rows[0] ? { attempts: rows[0].attempts, lastError: rows[0].last_error, queued: String(rows[0].queued_seq) } : undefined;
}

/**
 * Extends (`until`) or ends (null) the attempt's claim on its outbox row. A row claimed since by
 * another attempt (this one's lapsed, or the row was dropped and queued again) is left alone.
 */
export async function renewOutboxClaim(db: Queryable, a: OutboxAttempt, until: Date | null): Promise<void> {
  await db.query(
    `UPDATE alert_outbox SET posting_until = $5, posting_by = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE posting_by END WHERE ${HELD_ROW}`,
    [...held(a), until],
  );
}

export interface DueItem {
  groupId: number;
  channel: string;
  kind: OutboxKind;
  attempts: number;
  lastError: string | null;
}

/**
 * At most one due item per channel whose pace allows a message now: messages before
 * reminders, oldest first. One per channel per flush is how the ~1 message/s limit holds.
 */
export async function dueOutbox(db: Queryable, now: Date, limit = 500): Promise<DueItem[]> {
  const { rows } = await db.query<{ group_id: number; channel: string; kind: OutboxKind; attempts: number; last_error: string | null }>(
    `SELECT DISTINCT ON (o.channel) o.group_id, o.channel, o.kind, o.attempts, o.last_error
       FROM alert_outbox o LEFT JOIN alert_channel_pace p ON p.channel = o.channel
      WHERE o.not_before <= $1 AND (p.next_at IS NULL OR p.next_at <= $1) AND (o.posting_until IS NULL OR o.posting_until <= $1)
      ORDER BY o.channel, (o.kind = 'message') DESC, o.not_before, o.group_id
      LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => ({ groupId: r.group_id, channel: r.channel, kind: r.kind, attempts: r.attempts, lastError: r.last_error }));
}

/** When the outbox next has something sendable, pacing included; null when empty. */
export async function nextOutboxAt(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(GREATEST(o.not_before, COALESCE(p.next_at, o.not_before), COALESCE(o.posting_until, o.not_before))) AS at
       FROM alert_outbox o LEFT JOIN alert_channel_pace p ON p.channel = o.channel`,
  );
  return rows[0]?.at ?? null;
}

export async function setPace(db: Queryable, channel: string, nextAt: Date): Promise<void> {
  await db.query(
    `INSERT INTO alert_channel_pace (channel, next_at) VALUES ($1, $2) ON CONFLICT (channel) DO UPDATE SET next_at = EXCLUDED.next_at`,
    [channel, nextAt],
  );
}

export interface GroupMessage {
  channel: string;
  channelId: string;
  ts: string;
}

export async function groupMessage(db: Queryable, groupId: number, channel: string): Promise<GroupMessage | undefined> {
  const { rows } = await db.query<{ channel: string; channel_id: string; ts: string }>(
    'SELECT channel, channel_id, ts FROM alert_messages WHERE group_id = $1 AND channel = $2',
    [groupId, channel],
  );
  return rows[0] ? { channel: rows[0].channel, channelId: rows[0].channel_id, ts: rows[0].ts } : undefined;
}

export async function groupMessages(db: Queryable, groupId: number): Promise<GroupMessage[]> {
  const { rows } = await db.query<{ channel: string; channel_id: string; ts: string }>('SELECT channel, channel_id, ts FROM alert_messages WHERE group_id = $1', [groupId]);
  return rows.map((r) => ({ channel: r.channel, channelId: r.channel_id, ts: r.ts }));
}

export async function saveGroupMessage(db: Queryable, groupId: number, m: GroupMessage, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO alert_messages (group_id, channel, channel_id, ts, posted_at) VALUES ($1,$2,$3,$4,$5)
     ON CONFLICT (group_id, channel) DO UPDATE SET channel_id = EXCLUDED.channel_id, ts = EXCLUDED.ts, posted_at = EXCLUDED.posted_at`,
    [groupId, m.channel, m.channelId, m.ts, now],
  );
}

/**
 * A firing alert joining a group whose alerts all resolved (and were reported resolved)
 * starts a new episode: a fresh message after group_wait, as Alertmanager starts a new
 * aggregation group. The old message stays in Slack as the record of the last episode.
 */
export async function startNewEpisodes(c: Queryable, starts: { id: number; at: Date }[]): Promise<void> {
  if (starts.length === 0) return;
  const groupIds = starts.map((s) => s.id);
  await c.query('DELETE FROM alert_messages WHERE group_id = ANY($1)', [groupIds]);
  await c.query(
    `DELETE FROM alert_group_members m USING alerts a WHERE m.group_id = ANY($1) AND a.id = m.alert_id AND a.status = 'resolved'`,
    [groupIds],
  );
  await c.query(
    `UPDATE alert_groups g SET created_at = t.at, notified_version = 0, last_notified_at = NULL, all_resolved_noticed = false,
            acknowledged_by = NULL, acknowledged_at = NULL, escalated_at = NULL, unacknowledged_at = NULL FROM unnest($1::bigint[], $2::timestamptz[]) AS t(id, at) WHERE g.id = t.id`,
    [groupIds, starts.map((s) => s.at)],
  );
}

/**
 * Records that the group's message was sent, rendered at `version`. `allResolved` (the render
 * showed nothing firing) ends the episode only if nothing in the group fires now: an alert that
 * started firing during the send was routed into this episode, and marking the group all-resolved
 * with it firing made the next firing change start a new episode (a second message). Its change's
 * row is still queued and decides at the next round. A change that leaves nothing firing (an
 * acknowledgement) does not keep the episode open. The group row is locked first, in its own
 * statement: routing holds it from joining an alert to the group until it commits, so the check
 * that follows sees that alert, and a later routing sees the flag. Recorded only in the episode
 * that was rendered (`episode`, its start): a send answered after a new episode started wrote its
 * time and version into that episode, as if it had been notified, and routing then timed the new
 * episode's changes from the old send (group_interval) rather than from its start (group_wait).
 * True when all-resolved was recorded.
 */
export async function markNotified(pool: pg.Pool, groupId: number, episode: Date, version: number, now: Date, allResolved: boolean): Promise<boolean> {
  return withTransaction(pool, async (c) => {
    await c.query('SELECT 1 FROM alert_groups WHERE id = $1 FOR UPDATE', [groupId]);
    const { rows } = await c.query<{ all_resolved_noticed: boolean }>(
      `UPDATE alert_groups g SET notified_version = GREATEST(notified_version, $2), last_notified_at = $3,
              all_resolved_noticed = $4 AND NOT EXISTS (
                SELECT 1 FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id WHERE m.group_id = g.id AND a.status = 'firing')
        WHERE id = $1 AND created_at = $5 RETURNING all_resolved_noticed`,
      [groupId, version, now, allResolved, episode],
    );
    return rows[0]?.all_resolved_noticed ?? false;
  });
}

/** Claims the right to auto-declare for a group: false inside the cool-down. */
export async function claimDeclare(db: Queryable, groupId: number, now: Date, cooldownMs: number): Promise<number | null> {
  const { rows } = await db.query<{ declares: number }>(
    `UPDATE alert_groups SET declares = declares + 1, last_declared_at = $2
      WHERE id = $1 AND (last_declared_at IS NULL OR last_declared_at <= $2::timestamptz - make_interval(secs => $3))
      RETURNING declares`,
    [groupId, now, cooldownMs / 1000],
  );
  return rows[0]?.declares ?? null;
}

/** Undoes claimDeclare after the declare failed, so the cool-down does not swallow the incident. */
export async function releaseDeclare(db: Queryable, groupId: number, claimed: number, previous: Date | null): Promise<void> {
  await db.query('UPDATE alert_groups SET declares = declares - 1, last_declared_at = $3 WHERE id = $1 AND declares = $2', [groupId, claimed, previous]);
}

export async function attachIncident(db: Queryable, groupId: number, incidentId: number): Promise<void> {
  await db.query('UPDATE alert_groups SET incident_id = $2 WHERE id = $1', [groupId, incidentId]);
}

/** Groups an alert (by its source and fingerprint) belongs to. */
export async function groupsWithAlert(db: Queryable, source: string, fingerprint: string): Promise<number[]> {
  const { rows } = await db.query<{ group_id: number }>(
    `SELECT DISTINCT m.group_id FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id WHERE a.source = $1 AND a.fingerprint = $2 ORDER BY m.group_id`,
    [source, fingerprint],
  );
  return rows.map((r) => Number(r.group_id));
}

export async function acknowledgeGroup(db: Queryable, groupId: number, by: string, now: Date): Promise<AlertGroup | undefined> {
  const { rows } = await db.query<GroupRow>(
    `UPDATE alert_groups SET acknowledged_by = $2, acknowledged_at = $3, version = version + 1 WHERE id = $1 RETURNING *`,
    [groupId, by, now],
  );
  return rows[0] ? groupFromRow(rows[0]) : undefined;
}

/** Withdraws an acknowledgement made by `by` (PagerDuty said the incident wants attention again). */
export async function unacknowledgeGroup(db: Queryable, groupId: number, by: string, now: Date): Promise<AlertGroup | undefined> {
  const { rows } = await db.query<GroupRow>(
    `UPDATE alert_groups SET acknowledged_by = NULL, acknowledged_at = NULL, unacknowledged_at = $3, version = version + 1 WHERE id = $1 AND acknowledged_by = $2 RETURNING *`,
    [groupId, by, now],
  );
  return rows[0] ? groupFromRow(rows[0]) : undefined;
}

export async function silenceGroup(db: Queryable, groupId: number, by: string, until: Date): Promise<AlertGroup | undefined> {
  const { rows } = await db.query<GroupRow>(
    `UPDATE alert_groups SET silenced_by = $2, silenced_until = $3, version = version + 1 WHERE id = $1 RETURNING *`,
    [groupId, by, until],
  );
  return rows[0] ? groupFromRow(rows[0]) : undefined;
}

/**
 * Claims the one escalation of a group's episode (identified by its created_at): null when it
 * already escalated, was acknowledged, or a new episode started meanwhile.
 */
export async function claimEscalation(db: Queryable, groupId: number, episode: Date, now: Date): Promise<AlertGroup | undefined> {
  const { rows } = await db.query<GroupRow>(
    `UPDATE alert_groups SET escalated_at = $3 WHERE id = $1 AND created_at = $2 AND escalated_at IS NULL AND acknowledged_by IS NULL RETURNING *`,
    [groupId, episode, now],
  );
  return rows[0] ? groupFromRow(rows[0]) : undefined;
}

export async function unsilenceGroup(db: Queryable, groupId: number): Promise<AlertGroup | undefined> {
  const { rows } = await db.query<GroupRow>(
    `UPDATE alert_groups SET silenced_by = NULL, silenced_until = NULL, version = version + 1 WHERE id = $1 RETURNING *`,
    [groupId],
  );
  return rows[0] ? groupFromRow(rows[0]) : undefined;
}

/** Groups with a message in chat and their firing alerts. */
export async function shownGroupsWithFiring(db: Queryable): Promise<{ groupId: number; firing: StoredAlert[] }[]> {
  const { rows } = await db.query<AlertRow & { group_id: number }>(
    `SELECT m.group_id, a.* FROM alert_group_members m JOIN alerts a ON a.id = m.alert_id
      WHERE a.status = 'firing' AND EXISTS (SELECT 1 FROM alert_messages am WHERE am.group_id = m.group_id)
      ORDER BY m.group_id`,
  );
  const out = new Map<number, StoredAlert[]>();
  for (const r of rows) {
    const list = out.get(r.group_id) ?? [];
    list.push({
      id: r.id, source: r.source, fingerprint: r.fingerprint, status: r.status, labels: r.labels, annotations: r.annotations,
      startsAt: r.starts_at, endsAt: r.ends_at, generatorUrl: r.generator_url, receivedCount: r.received_count, lastReceivedAt: r.last_received_at,
    });
    out.set(r.group_id, list);
  }
  return [...out].map(([groupId, firing]) => ({ groupId, firing }));
}

/** Links that changed what the incident timeline should hear: newly firing or newly resolved. */
export async function reportAlertsToIncidents(
  c: Queryable,
  items: { alertId: number; incidentId: number; status: 'firing' | 'resolved' }[],
  now: Date,
): Promise<{ alertId: number; incidentId: number; status: 'firing' | 'resolved' }[]> {
  if (items.length === 0) return [];
  const firing = items.filter((i) => i.status === 'firing');
  const resolved = items.filter((i) => i.status === 'resolved');
  const out: { alertId: number; incidentId: number; status: 'firing' | 'resolved' }[] = [];
  if (firing.length) {
    const { rows } = await c.query<{ alert_id: number; incident_id: number }>(
      `INSERT INTO alert_incident_links (alert_id, incident_id, linked_at)
       SELECT a, i, $3 FROM unnest($1::bigint[], $2::bigint[]) AS t(a, i)
       ON CONFLICT (alert_id, incident_id) DO UPDATE SET resolved_reported = false, linked_at = EXCLUDED.linked_at
         WHERE alert_incident_links.resolved_reported
       RETURNING alert_id, incident_id`,
      [firing.map((l) => l.alertId), firing.map((l) => l.incidentId), now],
    );
    out.push(...rows.map((r) => ({ alertId: r.alert_id, incidentId: r.incident_id, status: 'firing' as const })));
  }
  if (resolved.length) {
    const { rows } = await c.query<{ alert_id: number; incident_id: number }>(
      `UPDATE alert_incident_links l SET resolved_reported = true
         FROM unnest($1::bigint[], $2::bigint[]) AS t(a, i)
        WHERE l.alert_id = t.a AND l.incident_id = t.i AND NOT l.resolved_reported
       RETURNING l.alert_id, l.incident_id`,
      [resolved.map((l) => l.alertId), resolved.map((l) => l.incidentId)],
    );
    out.push(...rows.map((r) => ({ alertId: r.alert_id, incidentId: r.incident_id, status: 'resolved' as const })));
  }
  return out;
}

/**
 * Retention: deletes alerts resolved before `cutoff` (their group memberships and, by cascade,
 * incident links go with them) and groups left with no alerts and nothing queued. Firing alerts are
 * kept however old they are.
 */
export async function pruneAlerts(db: Queryable, cutoff: Date): Promise<{ alerts: number; groups: number }> {
  // alert_group_members has no foreign keys (migration 171: their per-row checks cost routing
  // more than the insert), so the memberships go with their alerts here, in the same statement.
  const a = await db.query(
    `WITH gone AS (DELETE FROM alerts WHERE status = 'resolved' AND last_received_at < $1 RETURNING id),
          members AS (DELETE FROM alert_group_members WHERE alert_id IN (SELECT id FROM gone))
     SELECT count(*)::int AS n FROM gone`,
    [cutoff],
  );
  const g = await db.query(
    `DELETE FROM alert_groups g WHERE g.created_at < $1
        AND NOT EXISTS (SELECT 1 FROM alert_group_members m WHERE m.group_id = g.id)
        AND NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE o.group_id = g.id)`,
    [cutoff],
  );
  return { alerts: (a.rows[0] as { n: number }).n, groups: g.rowCount ?? 0 };
}

/**
 * Drops the attempt's pending message row (sent, or nothing to say) if the attempt still holds it,
 * nothing queued it again since the claim and the group is still at `version`, the one looked at;
 * false otherwise. The queue count catches what changes how a group is shown without a new version
 * (an incident attached, a silence at the source, the incident's channel ready): the version alone
 * let a send in flight drop such a change with its own row. The version catches a change committed
 * whose re-queue has not come yet (an acknowledgement, then refreshEverywhere). The group row is
 * read under a share lock: routing bumps the version and re-queues this row in one transaction, and
 * a plain join, made to wait for that row, re-checked it against the group as first seen (READ
 * COMMITTED) and deleted the change's row with the old render in chat. The lock waits for that
 * commit and reads the version it wrote. The count is read at the claim, before the render: a
 * change queued between the two is sent again, not lost.
 */
export async function clearPendingMessage(db: Queryable, a: OutboxAttempt, version: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH g AS (SELECT version FROM alert_groups WHERE id = $1 FOR SHARE)
     DELETE FROM alert_outbox USING g WHERE ${HELD_ROW} AND queued_seq = $6 AND g.version = $5`,
    [...held(a), version, a.queued],
  );
  return (rowCount ?? 0) > 0;
}

/** Arbitrary constant: one replica at a time sends from the outbox, so pacing holds. */
const OUTBOX_LOCK = 730_001;

/** Takes the outbox's sending lock on this session; false when another session sends. */
export const tryLockOutbox = (session: Queryable): Promise<boolean> => tryAdvisoryLock(session, OUTBOX_LOCK);

export const unlockOutbox = (session: Queryable): Promise<void> => advisoryUnlock(session, OUTBOX_LOCK);
