import type pg from 'pg';
import { GENESIS_HASH, verifyChain } from '../events/log.js';

export interface AuditVerdict {
  ok: boolean;
  /** Rows whose hash and link were recomputed and held. */
  checked: number;
  /** The newest row and its hash: the value to keep outside the database and compare later. */
  lastId: number;
  headHash: string;
  /**
   * The first row that does not hold. For rows missing at the end: the id after the last row
   * left (ids can skip after a rolled-back append, so the reason names the recorded head too).
   */
  firstBroken?: { id: number; reason: string };
}

/**
 * Recomputes the whole hash chain of the event log and checks its end against
 * `events_head` (migration 061), which an insert trigger advances and nothing moves back:
 * the chain finds edited rows and rows deleted in the middle, the head finds rows deleted
 * from the end. Runs in one read-only snapshot so appends during the check don't count as
 * breaks.
 */
export async function verifyAuditLog(pool: pg.Pool): Promise<AuditVerdict> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const chain = await verifyChain(c);
    const { rows: lastRows } = await c.query<{ id: number; hash: string }>('SELECT id, hash FROM events ORDER BY id DESC LIMIT 1');
    const { rows: countRows } = await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM events');
    const { rows: headRows } = await c.query<{ last_id: number; event_count: number; head_hash: string }>(
      'SELECT last_id, event_count, head_hash FROM events_head',
    );
    await c.query('COMMIT');
    const lastId = lastRows[0]?.id ?? 0;
    const headHash = lastRows[0]?.hash ?? GENESIS_HASH;
    if (!chain.ok) return { ok: false, checked: chain.checked, lastId, headHash, firstBroken: chain.firstBroken };
    const head = headRows[0];
    const rowCount = countRows[0]?.n ?? 0;
    if (!head) {
      return { ok: false, checked: chain.checked, lastId, headHash, firstBroken: { id: lastId, reason: 'the events_head record is missing, so rows deleted from the end could not be detected (someone removed it)' } };
    }
    if (head.last_id !== lastId || head.head_hash !== headHash || head.event_count !== rowCount) {
      const gone = head.event_count - rowCount;
      const reason = head.last_id > lastId
        ? `the log ends at #${lastId} but #${head.last_id} was appended (${head.event_count} rows ever, ${rowCount} left): ${gone > 0 ? `${gone} row${gone === 1 ? '' : 's'} at the end were deleted` : 'rows at the end were deleted'}`
        : `the last row #${lastId} does not match the recorded head #${head.last_id} (${head.event_count} rows appended, ${rowCount} present): rows were added or removed behind the log's back`;
      return { ok: false, checked: chain.checked, lastId, headHash, firstBroken: { id: head.last_id > lastId ? lastId + 1 : lastId, reason } };
    }
    return { ok: true, checked: chain.checked, lastId, headHash };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
