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
  /** The anchors (published outside the database, or given by hand) the log was checked against. */
  anchors?: string[];
}

/**
 * A head published where the database role cannot rewrite it (src/audit/anchor.ts), or one an
 * operator kept (`--expect-head`). A history rewritten and re-chained after it contradicts it.
 */
export interface AnchorCheck {
  /** How to name it in a verdict: the object key, or `--expect-head`. */
  name: string;
  headHash: string;
  /** Known for published anchors: the row that had headHash, and how many rows there were. */
  lastId?: number;
  eventCount?: number;
}

async function contradiction(c: pg.PoolClient, a: AnchorCheck): Promise<{ id: number; reason: string } | undefined> {
  if (a.lastId === undefined) {
    const { rows } = await c.query<{ id: number }>('SELECT id FROM events WHERE hash = $1 LIMIT 1', [a.headHash]);
    return rows[0] ? undefined : { id: 0, reason: `no entry has the hash ${a.headHash} given as ${a.name}: the history was rewritten after that head was kept` };
  }
  const { rows } = await c.query<{ hash: string }>('SELECT hash FROM events WHERE id = $1', [a.lastId]);
  const { rows: n } = await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM events WHERE id <= $1', [a.lastId]);
  if (!rows[0]) return { id: a.lastId, reason: `entry #${a.lastId} recorded in anchor ${a.name} is gone` };
  if (rows[0].hash !== a.headHash) {
    return { id: a.lastId, reason: `entry #${a.lastId} has hash ${rows[0].hash} but anchor ${a.name} recorded ${a.headHash}: the history up to it was rewritten and re-chained` };
  }
  if (a.eventCount !== undefined && n[0]!.n !== a.eventCount) {
    return { id: a.lastId, reason: `${n[0]!.n} entries up to #${a.lastId} but anchor ${a.name} recorded ${a.eventCount}: entries were added or removed before it` };
  }
  return undefined;
}

/**
 * Recomputes the whole hash chain of the event log and checks its end against
 * `events_head` (migration 061), which an insert trigger advances and nothing moves back:
 * the chain finds edited rows and rows deleted in the middle, the head finds rows deleted
 * from the end. Runs in one read-only snapshot so appends during the check don't count as
 * breaks.
 */
export async function verifyAuditLog(pool: pg.Pool, anchors: AnchorCheck[] = []): Promise<AuditVerdict> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const chain = await verifyChain(c);
    const { rows: lastRows } = await c.query<{ id: number; hash: string }>('SELECT id, hash FROM events ORDER BY id DESC LIMIT 1');
    const { rows: countRows } = await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM events');
    const { rows: headRows } = await c.query<{ last_id: number; event_count: number; head_hash: string }>(
      'SELECT last_id, event_count, head_hash FROM events_head',
    );
    let anchorBreak: { id: number; reason: string } | undefined;
    for (const a of anchors) {
      anchorBreak = await contradiction(c, a);
      if (anchorBreak) break;
    }
    await c.query('COMMIT');
    const lastId = lastRows[0]?.id ?? 0;
    const headHash = lastRows[0]?.hash ?? GENESIS_HASH;
    if (!chain.ok) return { ok: false, checked: chain.checked, lastId, headHash, firstBroken: chain.firstBroken };
    // Checked before the head: a re-chained history has a consistent head, and the anchor is
    // the one thing that names what was rewritten.
    if (anchorBreak) return { ok: false, checked: chain.checked, lastId, headHash, firstBroken: anchorBreak, anchors: anchors.map((a) => a.name) };
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
    return { ok: true, checked: chain.checked, lastId, headHash, ...(anchors.length ? { anchors: anchors.map((a) => a.name) } : {}) };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
