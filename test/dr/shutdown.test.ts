import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminUrl } from '../support/db.js';
import { FakeClock } from '../../src/clock.js';
import { eventsBy } from '../../src/events/log.js';
import { drTestConfig, makeSlowSourceDatabase, makeVerifiedBackup, scratchDatabases, spreadRunIds, type SourceDatabase } from './support.js';
import pg from 'pg';

const clock = new FakeClock(new Date('2026-11-23T10:00:00Z'));
let t: TestApp;
let source: SourceDatabase;

beforeAll(async () => {
  t = await startTestApp({ clock, config: await drTestConfig('fb-drsd') });
  await spreadRunIds(t.db.pool);
  source = await makeSlowSourceDatabase();
});
afterAll(async () => {
  await t?.stop();
  await source?.drop();
});

const service = () => t.app.services.dr;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  await c.query(sql);
  await c.end();
}

describe('a drill and Firebreak stopping', () => {
  it('a drill left running by a dead replica is closed as interrupted at start, and its scratch database dropped', async () => {
    const { rows } = await t.db.pool.query(
      `INSERT INTO dr_runs (kind, requester, targets, replica_id, started_at, steps)
       VALUES ('dry-run', 'U0ALICE', '{}'::jsonb, 'dead-replica', now(), '[]') RETURNING id`,
    );
    const scratch = `firebreak_dr_${rows[0].id}`;
    await admin(`CREATE DATABASE ${scratch}`);
    await service().recoverOrphans();
    const run = (await t.db.pool.query('SELECT * FROM dr_runs WHERE id = $1', [rows[0].id])).rows[0];
    expect(run.status).toBe('interrupted');
    expect(run.error).toBe('the replica running it stopped before it finished');
    expect(await scratchDatabases(adminUrl())).not.toContain(scratch);
  });

  it('graceful shutdown interrupts a running drill: recorded as interrupted, never passed, scratch database dropped', async () => {
    const backup = await makeVerifiedBackup(t.app.ctx, source, { snapshotAt: clock.now() });
    const ops = t.slack.channel('ops')!.id;
    const r = await service().start({ kind: 'dry-run', backupId: backup.id, requester: 'U0ALICE', channel: ops });
    if (r.status !== 'started') throw new Error(`not started: ${r.status}`);
    const scratch = `firebreak_dr_${r.run.id}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_restore'`, [scratch]);
      if (rows[0].n > 0) break;
      if (Date.now() > deadline) throw new Error('pg_restore never started');
      await new Promise((res) => setTimeout(res, 100));
    }
    t.app.lifecycle.stopLongWork('test shutdown');
    const run = await r.done;
    expect(run.status).toBe('interrupted');
    const restore = run.steps.find((s) => s.key === 'restore')!;
    expect(restore.status).toBe('cancelled');
    expect(restore.detail).toBe('interrupted: Firebreak is shutting down');
    expect(run.steps.find((s) => s.key === 'cleanup')!.status).toBe('passed');
    expect(run.rtoMs).toBeNull();
    expect(await scratchDatabases(adminUrl())).not.toContain(scratch);
    const events = (await eventsBy(t.db.pool, { subject: `dr:${run.id}` })).map((e) => e.type);
    expect(events).toEqual(['dr.started', 'dr.interrupted']);
    const report = t.slack.messagesIn(ops).find((m) => m.text.startsWith(`DR-${run.id} dry run`) && !m.thread_ts && m.ts !== run.messageTs)!;
    expect(report.text).toContain('interrupted');
    expect(report.text).not.toMatch(/passed/);
    // Once shutting down, no new drill starts.
    const again = await service().start({ kind: 'dry-run', requester: 'U0ALICE' });
    expect(again).toEqual({ status: 'refused', message: 'Firebreak is shutting down; start the drill again once it is back' });
  });
});
