import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import { canonicalJson, sha256Hex } from './canonical.js';

/** Hash of the (virtual) row before the first: the chain's anchor. */
export const GENESIS_HASH = '0'.repeat(64);
/** Arbitrary constant: the transaction lock that keeps the chain a single line. */
const CHAIN_LOCK = 727_002;

export interface NewEvent {
  type: string;
  actor: string;
  incidentId?: number | null;
  /** What the event is about when it is not an incident: `backup:<id>`, `approval:<id>`, ... */
  subject?: string | null;
  payload?: Record<string, unknown>;
  at: Date;
}

export interface StoredEvent {
  id: number;
  at: Date;
  actor: string;
  type: string;
  incidentId: number | null;
  subject: string | null;
  payload: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

interface EventRow {
  id: number;
  at: Date;
  actor: string;
  type: string;
  incident_id: number | null;
  subject: string | null;
  payload: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

function fromRow(r: EventRow): StoredEvent {
  return {
    id: r.id, at: r.at, actor: r.actor, type: r.type, incidentId: r.incident_id, subject: r.subject,
    payload: r.payload, prevHash: r.prev_hash, hash: r.hash,
  };
}

/** The exact bytes hashed for a row. Shared by append and verify so they cannot drift. */
export function eventHash(prevHash: string, e: Omit<StoredEvent, 'prevHash' | 'hash'>): string {
  return sha256Hex(
    prevHash +
      canonicalJson({
        id: e.id, at: e.at.toISOString(), actor: e.actor, type: e.type, incidentId: e.incidentId,
        subject: e.subject, payload: e.payload,
      }),
  );
}

/**
 * Appends one event to the chain. Must run inside a transaction (pass the client) so the
 * chain lock is held until commit; pass a pool and it opens one itself.
 */
export async function appendEvent(db: pg.Pool | pg.PoolClient, e: NewEvent): Promise<StoredEvent> {
  if ('totalCount' in db) {
    const client = await db.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await appendEvent(client, e);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      // A failed ROLLBACK leaves the client unusable: discard it rather than pool it.
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.release(broken);
    }
  }
  // Lock order: the incident row before the chain. Inserting the event takes a key-share lock
  // on its incident (the foreign key); taken after the chain lock, it deadlocked with any change
  // that holds the incident row (FOR UPDATE) and then appends its own event.
  if (e.incidentId != null) await db.query('SELECT 1 FROM incidents WHERE id = $1 FOR KEY SHARE', [e.incidentId]);
  await db.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
  const last = await db.query<{ hash: string }>('SELECT hash FROM events ORDER BY id DESC LIMIT 1');
  const prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
  const { rows: idRows } = await db.query<{ id: number }>("SELECT nextval('events_id_seq')::bigint AS id");
  // Round-trip the payload through JSON so what is hashed is exactly what jsonb stores.
  const payload = JSON.parse(JSON.stringify(e.payload ?? {})) as Record<string, unknown>;
  const base = {
    id: idRows[0]!.id, at: new Date(e.at.getTime()), actor: e.actor, type: e.type,
    incidentId: e.incidentId ?? null, subject: e.subject ?? null, payload,
  };
  const hash = eventHash(prevHash, base);
  await db.query(
    `INSERT INTO events (id, at, actor, type, incident_id, subject, payload, prev_hash, hash)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
    [base.id, base.at, base.actor, base.type, base.incidentId, base.subject, JSON.stringify(payload), prevHash, hash],
  );
  return { ...base, prevHash, hash };
}

export async function incidentEvents(db: Queryable, incidentId: number): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>('SELECT * FROM events WHERE incident_id = $1 ORDER BY id', [incidentId]);
  return rows.map(fromRow);
}

export async function eventsBy(
  db: Queryable,
  filter: { types?: string[]; subject?: string; afterId?: number; limit?: number } = {},
): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT * FROM events
      WHERE ($1::text[] IS NULL OR type = ANY($1)) AND ($2::text IS NULL OR subject = $2) AND id > $3
      ORDER BY id LIMIT $4`,
    [filter.types ?? null, filter.subject ?? null, filter.afterId ?? 0, filter.limit ?? 1000],
  );
  return rows.map(fromRow);
}

export interface ChainVerdict {
  ok: boolean;
  checked: number;
  /** The first row whose hash or link does not hold, with why. */
  firstBroken?: { id: number; reason: string };
}

/** Recomputes the whole chain in id order and names the first row that does not hold. */
export async function verifyChain(db: Queryable, batch = 5000): Promise<ChainVerdict> {
  let prevHash = GENESIS_HASH;
  let prevId = 0;
  let checked = 0;
  for (;;) {
    const { rows } = await db.query<EventRow>('SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2', [prevId, batch]);
    if (rows.length === 0) return { ok: true, checked };
    for (const r of rows) {
      const e = fromRow(r);
      if (e.prevHash !== prevHash) {
        return { ok: false, checked, firstBroken: { id: e.id, reason: `links to ${e.prevHash.slice(0, 12)}… but the row before it hashes to ${prevHash.slice(0, 12)}… (a row before it was deleted or changed)` } };
      }
      const expect = eventHash(prevHash, e);
      if (expect !== e.hash) {
        return { ok: false, checked, firstBroken: { id: e.id, reason: 'its contents do not match its hash (the row was edited)' } };
      }
      prevHash = e.hash;
      prevId = e.id;
      checked++;
    }
  }
}
