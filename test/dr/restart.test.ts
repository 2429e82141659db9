/**
 * A pre-approved `/dr dry-run` whose replica died after claiming its execution job is run
 * again by the replica that next claims the job (a dry run touches only its own scratch
 * database, so it is restartable), rather than closed as "interrupted" with no drill done.
 * Two apps on one database stand for the dead replica and the survivor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import type { BackupRecord } from '../../src/backups/model.js';
import { DR_DRY_RUN_KIND } from '../../src/dr/model.js';
import { FakeClock } from '../../src/clock.js';
import { drTestConfig, makeSmallBackedUpSource, spreadRunIds, type SourceDatabase } from './support.js';

const clock = new FakeClock(new Date());
let a: TestApp;
let b: TestApp;
let source: SourceDatabase;
let backup: BackupRecord;

beforeAll(async () => {
  const config = {
    ...(await drTestConfig('fb-drrestart')),
    approvals: { actions: { [DR_DRY_RUN_KIND]: { preApproved: true } } },
  };
  a = await startTestApp({ config, clock });
  b = await startTestApp({ config, clock, shared: { db: a.db, slack: a.slack } });
  await spreadRunIds(a.db.pool);
  ({ source, backup } = await makeSmallBackedUpSource(a.app.ctx));
}, 120_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await source?.drop();
});

describe('a pre-approved dry run whose replica died', () => {
  it('is started again by the replica that claims its job, once, and its outcome recorded', async () => {
    const ops = a.slack.channel('ops')!.id;
    // Replica A stops taking jobs (it is about to die): the gate's answer is durable all the same.
    await a.app.ctx.jobs.stop();
    const out = await a.app.services.changes.request(DR_DRY_RUN_KIND, { backupId: backup.id, channel: ops }, { userId: 'U0ALICE', channelId: ops });
    expect(out).toMatchObject({ status: 'started', reason: 'pre-approved' });
    const id = (out as { requestId: number }).requestId;
    // What a replica that claimed the run and died leaves behind: the job running under a lapsed claim.
    const lapsed = await a.db.pool.query(
      `UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'dead-replica', locked_until = $2
        WHERE dedupe_key = $1 AND status = 'pending' RETURNING id`,
      [`change-exec:${id}`, new Date(clock.now().getTime() - 1000)],
    );
    expect(lapsed.rowCount).toBe(1);

    await b.settle();
    const change = (await a.db.pool.query('SELECT status, result_ok, result_summary FROM change_requests WHERE id = $1', [id])).rows[0];
    expect(change).toMatchObject({ status: 'executed', result_ok: true });
    expect(change.result_summary).not.toMatch(/interrupted/);
    const runs = (await a.db.pool.query('SELECT status, change_request_id FROM dr_runs ORDER BY id')).rows;
    expect(runs.map((r) => ({ status: r.status, change: Number(r.change_request_id) }))).toEqual([{ status: 'passed', change: id }]);
    expect((await a.db.pool.query('SELECT status, attempts FROM jobs WHERE dedupe_key = $1', [`change-exec:${id}`])).rows).toEqual([{ status: 'done', attempts: 2 }]);
    const types = (await a.db.pool.query(`SELECT type FROM events WHERE subject = $1 ORDER BY id`, [`change:${id}`])).rows.map((r) => r.type);
    expect(types.filter((x) => x === 'change.executed')).toHaveLength(1);
  }, 180_000);
});
