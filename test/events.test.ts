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
});
