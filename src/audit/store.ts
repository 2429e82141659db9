import type { Queryable } from '../db/pool.js';
import type { StoredEvent } from '../events/log.js';
import { AUDIT_TYPE_PATTERNS } from './kinds.js';

/** What `/audit log` narrows by; every field given must match (AND). */
export interface AuditFilter {
  /** An event type or a type prefix without the dot: `change`, `dr.passed`. */
  type?: string;
  /** `change:12`, `dr:3`, `backup:<id>`. */
  subject?: string;
  actor?: string;
  incidentId?: number;
  limit?: number;
}

interface EventRow {
  id: number; at: Date; actor: string; type: string; incident_id: number | null; subject: string | null;
  payload: Record<string, unknown>; prev_hash: string; hash: string;
}

/** Recent audit entries, newest first. Read-only: the log itself is only ever appended to. */
export async function recentAuditEntries(db: Queryable, f: AuditFilter = {}): Promise<StoredEvent[]> {
  const typePrefix = f.type ? `${f.type.replace(/[%_\\]/g, (m) => `\\${m}`)}.%` : null;
  const { rows } = await db.query<EventRow>(
    `SELECT * FROM events
      WHERE type LIKE ANY($1::text[])
        AND ($2::text IS NULL OR type = $2 OR type LIKE $3)
        AND ($4::text IS NULL OR subject = $4)
        AND ($5::text IS NULL OR actor = $5)
        AND ($6::bigint IS NULL OR incident_id = $6)
      ORDER BY id DESC LIMIT $7`,
    [AUDIT_TYPE_PATTERNS, f.type ?? null, typePrefix, f.subject ?? null, f.actor ?? null, f.incidentId ?? null, f.limit ?? 20],
  );
  return rows.map((r) => ({
    id: r.id, at: r.at, actor: r.actor, type: r.type, incidentId: r.incident_id, subject: r.subject,
    payload: r.payload, prevHash: r.prev_hash, hash: r.hash,
  }));
}
