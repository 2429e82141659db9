import type { Queryable } from '../db/pool.js';
import type { Severity } from '../incidents/config.js';

/** An open follow-up as the reminders and the digest show it, with its incident. */
export interface OpenFollowup {
  id: number;
  title: string;
  ownerUserId: string | null;
  ownerLabel: string | null;
  /** yyyy-mm-dd, or null when it has no due date. */
  dueOn: string | null;
  status: 'open' | 'done' | 'cancelled';
  trackerUrl: string | null;
  incidentId: number;
  incidentTitle: string;
  severity: Severity;
}

const SELECT_FOLLOWUP = `
  SELECT f.id::int AS id, f.title, f.owner_user_id, f.owner_label, to_char(f.due_on, 'YYYY-MM-DD') AS due_on, f.status, f.tracker_url,
         f.incident_id::int AS incident_id, i.title AS incident_title, i.severity
    FROM followups f JOIN incidents i ON i.id = f.incident_id`;

const toFollowup = (r: Record<string, unknown>): OpenFollowup => ({
  id: Number(r.id), title: String(r.title), ownerUserId: (r.owner_user_id as string | null) ?? null, ownerLabel: (r.owner_label as string | null) ?? null,
  dueOn: (r.due_on as string | null) ?? null, status: r.status as OpenFollowup['status'], trackerUrl: (r.tracker_url as string | null) ?? null,
  incidentId: Number(r.incident_id), incidentTitle: String(r.incident_title), severity: r.severity as Severity,
});

/**
 * Claims this week's reminder of every open follow-up past its due date that has an owner in
 * chat, and returns the ids it claimed. The (followup_id, week) key makes the claim once:
 * a second replica, a retried slot or a second slot in the same week claims nothing.
 * `sent_at` is the claim time here and becomes the send time when the DM goes out.
 */
export async function claimOverdueReminders(db: Queryable, week: string, today: string, now: Date): Promise<number[]> {
  const { rows } = await db.query<{ followup_id: string }>(
    `INSERT INTO followup_reminders (followup_id, week, sent_at)
     SELECT id, $1::date, $3 FROM followups
      WHERE status = 'open' AND owner_user_id IS NOT NULL AND due_on < $2::date
      ORDER BY id
     ON CONFLICT (followup_id, week) DO NOTHING
     RETURNING followup_id`,
    [week, today, now],
  );
  return rows.map((r) => Number(r.followup_id));
}

export async function getFollowup(db: Queryable, id: number): Promise<OpenFollowup | undefined> {
  const { rows } = await db.query(`${SELECT_FOLLOWUP} WHERE f.id = $1`, [id]);
  return rows[0] ? toFollowup(rows[0]) : undefined;
}

export async function markReminderSent(db: Queryable, followupId: number, week: string, at: Date): Promise<void> {
  await db.query('UPDATE followup_reminders SET sent_at = $3 WHERE followup_id = $1 AND week = $2::date', [followupId, week, at]);
}

/** Every open follow-up, by incident then owner then due date. */
export async function openFollowups(db: Queryable): Promise<OpenFollowup[]> {
  const { rows } = await db.query(
    `${SELECT_FOLLOWUP} WHERE f.status = 'open'
      ORDER BY f.incident_id, coalesce(f.owner_user_id, f.owner_label, '') , f.due_on NULLS LAST, f.id`,
  );
  return rows.map(toFollowup);
}

export interface IncidentBrief {
  id: number;
  title: string;
  severity: Severity;
  status: string;
  declaredAt: Date;
  resolvedAt: Date | null;
}

/** Incidents declared in [from, to), oldest first. */
export async function incidentsDeclaredBetween(db: Queryable, from: Date, to: Date): Promise<IncidentBrief[]> {
  const { rows } = await db.query(
    `SELECT id::int AS id, title, severity, status, declared_at, resolved_at FROM incidents
      WHERE declared_at >= $1 AND declared_at < $2 ORDER BY declared_at, id`,
    [from, to],
  );
  return rows.map((r) => ({
    id: Number(r.id), title: String(r.title), severity: r.severity as Severity, status: String(r.status),
    declaredAt: r.declared_at as Date, resolvedAt: (r.resolved_at as Date | null) ?? null,
  }));
}
