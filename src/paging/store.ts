import type { Queryable } from '../db/pool.js';
import type { Page, PageStatus } from './model.js';

interface PageRow {
  id: number; incident_id: number; service: string; routing_key_env: string; dedup_key: string; status: PageStatus;
  attempts: number; last_error: string | null; pd_incident_id: string | null; pd_incident_url: string | null;
  requested_by: string; reason: string; created_at: Date; updated_at: Date; triggered_at: Date | null; resolved_at: Date | null;
  notice_channel: string | null; notice_ts: string | null; notice_attempts: number; notice_retried_by: string | null; acknowledged_by: string | null; acknowledged_at: Date | null;
}

const fromRow = (r: PageRow): Page => ({
  id: r.id, incidentId: r.incident_id, service: r.service, routingKeyEnv: r.routing_key_env, dedupKey: r.dedup_key,
  status: r.status, attempts: r.attempts, lastError: r.last_error, pdIncidentId: r.pd_incident_id,
  pdIncidentUrl: r.pd_incident_url, requestedBy: r.requested_by, reason: r.reason, createdAt: r.created_at,
  updatedAt: r.updated_at, triggeredAt: r.triggered_at, resolvedAt: r.resolved_at,
  notice: r.notice_channel && r.notice_ts ? { channel: r.notice_channel, ts: r.notice_ts, attempts: r.notice_attempts, retriedBy: r.notice_retried_by } : null,
  acknowledgedBy: r.acknowledged_by, acknowledgedAt: r.acknowledged_at,
});

export interface NewPage {
  incidentId: number;
  service: string;
  routingKeyEnv: string;
  dedupKey: string;
  requestedBy: string;
  reason: string;
  at: Date;
  /** A retry re-sends the original page: keep who asked for it and why. */
  isRetry?: boolean;
}

/**
 * A delivery records every attempt, so a page pending this long has no live delivery (its job
 * gave up on a database error): it may be claimed again rather than block paging for good.
 */
const STALE_PENDING_MS = 10 * 60_000;

export type ClaimResult = { claimed: true; page: Page } | { claimed: false; page: Page };

/**
 * Takes the right to deliver a page: a new row, or an existing one that is not in flight
 * or already triggered (failed, resolved, resolve_failed, or a stale pending). Two replicas or two clicks racing
 * for the same page get one `claimed: true` between them.
 */
export async function claimPage(db: Queryable, p: NewPage): Promise<ClaimResult> {
  const inserted = await db.query<PageRow>(
    `INSERT INTO pages (incident_id, service, routing_key_env, dedup_key, status, requested_by, reason, created_at, updated_at)
     VALUES ($1,$2,$3,$4,'pending',$5,$6,$7,$7) ON CONFLICT (incident_id, service) DO NOTHING RETURNING *`,
    [p.incidentId, p.service, p.routingKeyEnv, p.dedupKey, p.requestedBy, p.reason, p.at],
  );
  if (inserted.rows[0]) return { claimed: true, page: fromRow(inserted.rows[0]) };
  const reclaimed = await db.query<PageRow>(
    `UPDATE pages SET status='pending', routing_key_env=$3, updated_at=$6, last_error=NULL, acknowledged_by=NULL, acknowledged_at=NULL,
            requested_by = CASE WHEN $7 THEN requested_by ELSE $4 END, reason = CASE WHEN $7 THEN reason ELSE $5 END
      WHERE incident_id=$1 AND service=$2
        AND (status IN ('failed','resolved','resolve_failed') OR (status = 'pending' AND updated_at < $8)) RETURNING *`,
    [p.incidentId, p.service, p.routingKeyEnv, p.requestedBy, p.reason, p.at, p.isRetry === true, new Date(p.at.getTime() - STALE_PENDING_MS)],
  );
  if (reclaimed.rows[0]) return { claimed: true, page: fromRow(reclaimed.rows[0]) };
  const existing = await pageFor(db, p.incidentId, p.service);
  return { claimed: false, page: existing! };
}

export async function pageFor(db: Queryable, incidentId: number, service: string): Promise<Page | undefined> {
  const { rows } = await db.query<PageRow>('SELECT * FROM pages WHERE incident_id=$1 AND service=$2', [incidentId, service]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function pagesForIncident(db: Queryable, incidentId: number): Promise<Page[]> {
  const { rows } = await db.query<PageRow>('SELECT * FROM pages WHERE incident_id=$1 ORDER BY id', [incidentId]);
  return rows.map(fromRow);
}

export async function recordAttempt(db: Queryable, pageId: number, error: string | null, at: Date): Promise<void> {
  await db.query('UPDATE pages SET attempts = attempts + 1, last_error = $2, updated_at = $3 WHERE id = $1', [pageId, error, at]);
}

export async function setPageStatus(db: Queryable, pageId: number, status: PageStatus, at: Date): Promise<Page> {
  const { rows } = await db.query<PageRow>(
    `UPDATE pages SET status=$2, updated_at=$3,
            triggered_at = CASE WHEN $2 = 'triggered' THEN $3 ELSE triggered_at END,
            resolved_at  = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_at END
      WHERE id=$1 RETURNING *`,
    [pageId, status, at],
  );
  return fromRow(rows[0]!);
}

/** Pages whose alert may still be open in PagerDuty: what a resolve must close. */
export async function pagesToResolve(db: Queryable, incidentId: number): Promise<Page[]> {
  const { rows } = await db.query<PageRow>(
    "SELECT * FROM pages WHERE incident_id=$1 AND status IN ('triggered','resolve_failed') ORDER BY id",
    [incidentId],
  );
  return rows.map(fromRow);
}

/**
 * Records the outcome of a resolve. Only an open page moves, so a resolve that finishes
 * after a retry re-claimed the page (status pending) cannot mark that new trigger resolved.
 */
export async function finishResolve(db: Queryable, pageId: number, ok: boolean, at: Date): Promise<Page | undefined> {
  const { rows } = await db.query<PageRow>(
    `UPDATE pages SET status=$2, updated_at=$3, resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_at END
      WHERE id=$1 AND status IN ('triggered','resolve_failed') RETURNING *`,
    [pageId, ok ? 'resolved' : 'resolve_failed', at],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Where the page's "Paged …" message is and how the page got through, so a later state change edits it without losing that. */
export async function rememberNotice(db: Queryable, pageId: number, ref: { channel: string; ts: string }, how: { attempts: number; retriedBy: string | null }): Promise<void> {
  await db.query('UPDATE pages SET notice_channel = $2, notice_ts = $3, notice_attempts = $4, notice_retried_by = $5 WHERE id = $1', [pageId, ref.channel, ref.ts, how.attempts, how.retriedBy]);
}

/** The first acknowledgement of a triggered page in PagerDuty; later ones keep the first. */
export async function acknowledgePage(db: Queryable, pageId: number, by: string, at: Date): Promise<Page | undefined> {
  const { rows } = await db.query<PageRow>(
    `UPDATE pages SET acknowledged_by = COALESCE(acknowledged_by, $2), acknowledged_at = COALESCE(acknowledged_at, $3) WHERE id = $1 RETURNING *`,
    [pageId, by, at],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function pageById(db: Queryable, id: number): Promise<Page | undefined> {
  const { rows } = await db.query<PageRow>('SELECT * FROM pages WHERE id=$1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** The page a webhook is about: by dedup key (PagerDuty's incident_key) or its PagerDuty incident id. */
export async function pageForWebhook(db: Queryable, ref: { dedupKey?: string; pdIncidentId?: string }): Promise<Page | undefined> {
  const { rows } = await db.query<PageRow>(
    `SELECT * FROM pages WHERE ($1::text IS NOT NULL AND dedup_key = $1) OR ($2::text IS NOT NULL AND pd_incident_id = $2)
      ORDER BY id DESC LIMIT 1`,
    [ref.dedupKey ?? null, ref.pdIncidentId ?? null],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function rememberPdIncident(db: Queryable, pageId: number, pdIncidentId: string, url: string | null): Promise<void> {
  await db.query(
    'UPDATE pages SET pd_incident_id = $2, pd_incident_url = COALESCE($3, pd_incident_url) WHERE id = $1 AND pd_incident_id IS DISTINCT FROM $2',
    [pageId, pdIncidentId, url],
  );
}

export type PdActionKind = 'acknowledged' | 'resolved' | 'escalated' | 'reassigned';

/** Records a change about to be made from Slack, so its webhook echo can be recognised. */
export async function recordPdAction(db: Queryable, a: { pageId?: number; groupId?: number; pdIncidentId: string; action: PdActionKind; slackUser: string; pdUserId: string; escalationLevel?: number; at: Date }): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO pagerduty_actions (page_id, group_id, pd_incident_id, action, slack_user, pd_user_id, escalation_level, requested_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id`,
    [a.pageId ?? null, a.groupId ?? null, a.pdIncidentId, a.action, a.slackUser, a.pdUserId, a.escalationLevel ?? null, a.at],
  );
  return rows[0]!.id;
}

export async function finishPdAction(db: Queryable, id: number, ok: boolean): Promise<void> {
  if (ok) await db.query('UPDATE pagerduty_actions SET done = true WHERE id = $1', [id]);
  else await db.query('DELETE FROM pagerduty_actions WHERE id = $1 AND echo_event_id IS NULL', [id]);
}

/** The highest escalation level Firebreak moved this PagerDuty incident to (1 when never). */
export async function knownEscalationLevel(db: Queryable, pdIncidentId: string): Promise<number> {
  const { rows } = await db.query<{ level: number | null }>(`SELECT max(escalation_level) AS level FROM pagerduty_actions WHERE pd_incident_id = $1 AND done`, [pdIncidentId]);
  return rows[0]?.level ?? 1;
}

/**
 * Claims a webhook event as the echo of a change made from Slack in the last `windowMs`:
 * true (and marked) when one was waiting for it, so the caller records nothing twice.
 */
export async function claimEcho(db: Queryable, pdIncidentId: string, action: PdActionKind, eventId: string, now: Date, windowMs: number): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE pagerduty_actions SET echo_event_id = $3
      WHERE id = (SELECT id FROM pagerduty_actions
                   WHERE pd_incident_id = $1 AND action = $2 AND (echo_event_id IS NULL OR echo_event_id = $3)
                     AND requested_at >= $4::timestamptz - make_interval(secs => $5)
                   ORDER BY (echo_event_id = $3) DESC NULLS LAST, requested_at LIMIT 1 FOR UPDATE)
      RETURNING id`,
    [pdIncidentId, action, eventId, now, windowMs / 1000],
  );
  return rows.length > 0;
}

/** Whether a job with this dedupe key was queued (a webhook delivery already seen). */
export async function jobExists(db: Queryable, dedupeKey: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM jobs WHERE dedupe_key = $1', [dedupeKey]);
  return rows.length > 0;
}

/** PagerDuty's acknowledgement of an incident Firebreak did not raise (an alert of source `pagerduty`). */
export interface PdAlertAck {
  pdIncidentId: string;
  acknowledgedBy: string;
  slackUser: string | null;
  acknowledgedAt: Date;
}

/** Records the first acknowledgement; true when this one is new. */
export async function acknowledgeAlert(db: Queryable, a: PdAlertAck): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO pagerduty_alert_state (pd_incident_id, acknowledged_by, slack_user, acknowledged_at) VALUES ($1,$2,$3,$4) ON CONFLICT (pd_incident_id) DO NOTHING`,
    [a.pdIncidentId, a.acknowledgedBy, a.slackUser, a.acknowledgedAt],
  );
  return (rowCount ?? 0) > 0;
}

/** Forgets the acknowledgement: the incident triggered again (reopened, or acknowledgement timed out). */
export async function clearAlertAck(db: Queryable, pdIncidentId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM pagerduty_alert_state WHERE pd_incident_id = $1', [pdIncidentId]);
  return (rowCount ?? 0) > 0;
}

export async function alertAcks(db: Queryable, pdIncidentIds: string[]): Promise<PdAlertAck[]> {
  if (pdIncidentIds.length === 0) return [];
  const { rows } = await db.query<{ pd_incident_id: string; acknowledged_by: string; slack_user: string | null; acknowledged_at: Date }>(
    'SELECT * FROM pagerduty_alert_state WHERE pd_incident_id = ANY($1::text[]) ORDER BY acknowledged_at, pd_incident_id',
    [pdIncidentIds],
  );
  return rows.map((r) => ({ pdIncidentId: r.pd_incident_id, acknowledgedBy: r.acknowledged_by, slackUser: r.slack_user, acknowledgedAt: r.acknowledged_at }));
}
