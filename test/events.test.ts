import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { appendEvent, verifyChain, incidentEvents } from '../src/events/log.js';
import { migrate } from '../src/db/migrate.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

describe('the event log', () => {
  it('chains every event to the one before it', async () => {
    const at = new Date('2026-03-01T10:00:00.123Z');
    const a = await appendEvent(db.pool, { type: 'test.one', actor: 'U1', at, payload: { b: 2, a: 1 } });
    const b = await appendEvent(db.pool, { type: 'test.two', actor: 'U2', at, subject: 'thing:1' });
    expect(b.prevHash).toBe(a.hash);
    expect(await verifyChain(db.pool)).toEqual({ ok: true, checked: 2 });
  });

  it('refuses updates and deletes', async () => {
    await expect(db.pool.query("UPDATE events SET actor = 'x'")).rejects.toThrow(/append-only/);
    await expect(db.pool.query('DELETE FROM events')).rejects.toThrow(/append-only/);
  });

  it('keeps the chain a single line under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => appendEvent(db.pool, { type: 'test.race', actor: `U${i}`, at: new Date() })),
    );
    const v = await verifyChain(db.pool);
    expect(v.ok).toBe(true);
    expect(v.checked).toBe(22);
  });

  it('serves an incident timeline through the incident_events view', async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      "INSERT INTO incidents (title, severity, declared_by, declared_at) VALUES ('t','P2','U1', now()) RETURNING id",
    );
    await appendEvent(db.pool, { type: 'incident.declared', actor: 'U1', at: new Date(), incidentId: rows[0]!.id });
    expect((await incidentEvents(db.pool, rows[0]!.id)).map((e) => e.type)).toEqual(['incident.declared']);
    const view = await db.pool.query('SELECT * FROM incident_events WHERE incident_id = $1', [rows[0]!.id]);
    expect(view.rowCount).toBe(1);
  });

  it('migrations are idempotent when run twice at once', async () => {
    const r = await Promise.all([migrate(db.pool), migrate(db.pool)]);
    expect(r).toEqual([[], []]);
  });
  it('an incident change holding its row and a second event for that incident never deadlock on the chain lock', async () => {
    // The chaos run saw "deadlock detected" in most incident changes and setup steps: a change
    // locks its incident row and then appends (chain lock), while another append for the same
    // incident held the chain lock and waited on that row (the events → incidents foreign key).
    const { rows } = await db.pool.query<{ id: number }>(
      "INSERT INTO incidents (title, severity, declared_by, declared_at) VALUES ('lock order','P2','U1', now()) RETURNING id");
    const id = rows[0]!.id;
    const change = await db.pool.connect();
    try {
      await change.query('BEGIN');
      await change.query('SELECT id FROM incidents WHERE id = $1 FOR UPDATE', [id]);
      // A setup step's event for the same incident, in its own transaction, arrives meanwhile.
      const other = appendEvent(db.pool, { type: 'test.step', actor: 'firebreak', at: new Date(), incidentId: id });
      // Wait until that append is blocked inside PostgreSQL before the change appends its own.
      for (;;) {
        const w = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`, [
          (await change.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
        ]);
        if (w.rowCount) break;
        await new Promise((r) => setImmediate(r));
      }
      await appendEvent(change, { type: 'test.change', actor: 'U1', at: new Date(), incidentId: id });
      await change.query('COMMIT');
      await other;
    } finally {
      change.release();
    }
    const types = (await incidentEvents(db.pool, id)).map((e) => e.type);
    expect(types).toEqual(['test.change', 'test.step']);
    expect((await verifyChain(db.pool)).ok).toBe(true);
  });
});
