import type { Queryable } from '../db/pool.js';
import type { ApiMatcher, ApiSilence } from './alertmanager-client.js';
import type { Silence } from './model.js';

/* SQL for silences; no side effects beyond the rows written. */

interface Row {
  id: number;
  alertmanager: string;
  silence_id: string | null;
  matchers: ApiMatcher[];
  starts_at: Date;
  ends_at: Date;
  created_by: string;
  comment: string;
  state: 'creating' | 'active' | 'pending' | 'expired';
  slack_user: string | null;
  group_id: number | null;
  request_key: string | null;
}

export interface SilenceRow extends Silence {
  rowId: number;
  creating: boolean;
}

const fromRow = (r: Row): SilenceRow => ({
  rowId: r.id, alertmanager: r.alertmanager, id: r.silence_id ?? '', matchers: r.matchers, startsAt: r.starts_at, endsAt: r.ends_at,
  createdBy: r.created_by, comment: r.comment, state: r.state === 'creating' ? 'pending' : r.state, creating: r.state === 'creating',
  slackUser: r.slack_user, groupId: r.group_id,
});

export interface Intent {
  requestKey: string;
  alertmanager: string;
  matchers: ApiMatcher[];
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
  slackUser: string;
  groupId: number | null;
}

/** Records the intent to create a silence; a second call with the same key returns the first row. */
export async function recordIntent(db: Queryable, i: Intent, now: Date): Promise<SilenceRow> {
  const { rows } = await db.query<Row>(
    `INSERT INTO alert_silences (alertmanager, matchers, starts_at, ends_at, created_by, comment, state, slack_user, group_id, request_key, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,'creating',$7,$8,$9,$10)
     ON CONFLICT (request_key) DO UPDATE SET request_key = EXCLUDED.request_key
     RETURNING *`,
    [i.alertmanager, JSON.stringify(i.matchers), i.startsAt, i.endsAt, i.createdBy, i.comment, i.slackUser, i.groupId, i.requestKey, now],
  );
  return fromRow(rows[0]!);
}

export async function dropIntent(db: Queryable, rowId: number): Promise<void> {
  await db.query(`DELETE FROM alert_silences WHERE id = $1 AND state = 'creating'`, [rowId]);
}

/**
 * Fills in the id Alertmanager gave. The poller may have mirrored that silence already (a row
 * without request key): that row gives way to the one that knows who asked.
 */
export async function confirmIntent(db: Queryable, rowId: number, silenceId: string, state: 'active' | 'pending', now: Date): Promise<void> {
  const { rows } = await db.query<{ alertmanager: string }>('SELECT alertmanager FROM alert_silences WHERE id = $1', [rowId]);
  if (!rows[0]) return;
  await db.query('DELETE FROM alert_silences WHERE alertmanager = $1 AND silence_id = $2 AND id <> $3', [rows[0].alertmanager, silenceId, rowId]);
  await db.query(`UPDATE alert_silences SET silence_id = $2, state = $3, updated_at = $4 WHERE id = $1`, [rowId, silenceId, state, now]);
}

/**
 * Mirrors what an Alertmanager lists. Returns the silences whose effect may have changed
 * (new, state or end changed), so the group messages they touch can be refreshed.
 */
export async function mirror(db: Queryable, alertmanager: string, list: ApiSilence[], now: Date): Promise<SilenceRow[]> {
  const changed: SilenceRow[] = [];
  if (list.length > 0) {
    const { rows } = await db.query<Row>(
      `INSERT INTO alert_silences (alertmanager, silence_id, matchers, starts_at, ends_at, created_by, comment, state, updated_at)
       SELECT $1, t.id, t.m, t.s, t.e, t.by, t.c, t.st, $9
         FROM unnest($2::text[], $3::jsonb[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::text[]) AS t(id, m, s, e, by, c, st)
       ON CONFLICT (alertmanager, silence_id) DO UPDATE SET
         state = EXCLUDED.state, ends_at = EXCLUDED.ends_at, starts_at = EXCLUDED.starts_at, matchers = EXCLUDED.matchers,
         comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at
         WHERE alert_silences.state IS DISTINCT FROM EXCLUDED.state OR alert_silences.ends_at IS DISTINCT FROM EXCLUDED.ends_at
            OR alert_silences.matchers IS DISTINCT FROM EXCLUDED.matchers
       RETURNING *`,
      [
        alertmanager, list.map((s) => s.id), list.map((s) => JSON.stringify(s.matchers)), list.map((s) => s.startsAt), list.map((s) => s.endsAt),
        list.map((s) => s.createdBy), list.map((s) => s.comment), list.map((s) => s.state), now,
      ],
    );
    changed.push(...rows.map(fromRow));
  }
  // Alertmanager forgets expired silences after its retention: gone there means over here.
  const { rows: gone } = await db.query<Row>(
    `UPDATE alert_silences SET state = 'expired', updated_at = $3
      WHERE alertmanager = $1 AND silence_id IS NOT NULL AND state IN ('active', 'pending') AND NOT (silence_id = ANY($2))
      RETURNING *`,
    [alertmanager, list.map((s) => s.id), now],
  );
  changed.push(...gone.map(fromRow));
  return changed;
}

export async function markExpired(db: Queryable, alertmanager: string, silenceId: string, now: Date): Promise<SilenceRow | undefined> {
  const { rows } = await db.query<Row>(
    `UPDATE alert_silences SET state = 'expired', ends_at = LEAST(ends_at, $3), updated_at = $3 WHERE alertmanager = $1 AND silence_id = $2 RETURNING *`,
    [alertmanager, silenceId, now],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Silences not yet over (active, or pending a future start), newest first. */
export async function liveSilences(db: Queryable, now: Date): Promise<SilenceRow[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM alert_silences WHERE state IN ('active', 'pending') AND silence_id IS NOT NULL AND ends_at > $1 ORDER BY starts_at DESC, id DESC`,
    [now],
  );
  return rows.map(fromRow);
}

export async function findSilence(db: Queryable, silenceId: string): Promise<SilenceRow[]> {
  const { rows } = await db.query<Row>('SELECT * FROM alert_silences WHERE silence_id = $1', [silenceId]);
  return rows.map(fromRow);
}
