/**
 * kill -9 of the replica running a pre-approved `/backup now` (a real Firebreak process: pg_dump,
 * zstd, encryption, the local object store). The gate starts a pre-approved action through the
 * same durable execution job as an approved one, and a backup is restartable: the next replica
 * to run (here the restarted one) claims the job once the dead claim lapses and takes the backup
 * again. The acknowledged request ends with one good backup and one recorded outcome, not
 * "interrupted".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { generateIdentity } from '../../src/backups/age.js';
import { killIfRunning, startFirebreak, type FirebreakProcess } from '../ops/support/process.js';
import { createBulkDatabase, postBackupNow, startProcessSlack } from './support.js';

const SECRET = `backup-kill-${randomBytes(6).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-backup-kill-'));
const { recipient } = generateIdentity();
let data: { name: string; url: string; drop(): Promise<void> };
let slack: FakeSlack;
let state: TestDatabase;
const procs: FirebreakProcess[] = [];

beforeAll(async () => {
  slack = await startProcessSlack();
  // ~65 MB of poorly compressible rows: the dump is still running when the replica is killed.
  data = await createBulkDatabase('fb_bkkill', 500_000);
  state = await createTestDatabase('fb_bkkillstate');
  writeFileSync(path.join(dir, 'firebreak.yml'), JSON.stringify({
    backups: { databases: [{ name: 'shop', url: data.url }], schedules: [], storage: { localDir: path.join(dir, 'store') }, encryption: { recipient }, zstdLevel: 3 },
    approvals: { actions: { 'backup.now': { preApproved: true } } },
  }));
}, 180_000);
afterAll(async () => {
  await Promise.all(procs.map(killIfRunning));
  await slack?.stop();
  await state?.drop();
  await data?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function replica(): Promise<FirebreakProcess> {
  const p = await startFirebreak({
    DATABASE_URL: state.url, SLACK_BOT_TOKEN: 'xoxb-backup-kill', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url,
    FIREBREAK_CONFIG: path.join(dir, 'firebreak.yml'), FIREBREAK_DATA_DIR: dir,
  });
  procs.push(p);
  return p;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const q = async <T extends pg.QueryResultRow>(sql: string, args: unknown[] = []) => (await state.pool.query<T>(sql, args)).rows;

describe('kill -9 during a pre-approved /backup now', () => {
  it('the restarted replica takes the backup again from its durable job: one good backup, one outcome, the requester told', async () => {
    const a = await replica();
    await postBackupNow(a, slack, SECRET);

    await until('the backup to be running on A', async () => ((await q(`SELECT 1 FROM backups WHERE status = 'running'`)).length ? true : undefined), 60_000);
    a.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    // Killed mid-way: nothing finished, the change is still executing with its job claimed by the dead replica.
    expect(await q(`SELECT status FROM backups`)).toEqual([{ status: 'running' }]);
    const [change] = await q<{ id: number; status: string; started_because: string }>(`SELECT id, status, started_because FROM change_requests`);
    expect(change).toMatchObject({ status: 'executing', started_because: 'pre-approved' });
    expect(await q(`SELECT status, attempts FROM jobs WHERE dedupe_key = $1`, [`change-exec:${change!.id}`])).toEqual([{ status: 'running', attempts: 1 }]);

    // The replica comes back (another replica would do the same): once the dead claim lapses it runs the job again.
    await replica();
    // The job is done once the outcome is recorded and the requester told.
    // Done or failed, not merely "not running": a starting replica first hands the dead one's
    // claims back (pending), which is not the end of the job.
    await until('the execution job to finish', async () => ((await q(`SELECT 1 FROM jobs WHERE dedupe_key = $1 AND status IN ('done', 'failed')`, [`change-exec:${change!.id}`])).length ? true : undefined), 180_000);
    const done = await until('the change to be closed', async () => {
      const [r] = await q<{ status: string; result_ok: boolean | null; result_summary: string | null }>(`SELECT status, result_ok, result_summary FROM change_requests WHERE id = $1`, [change!.id]);
      return r && r.status !== 'executing' ? r : undefined;
    }, 5_000);
    expect(done).toMatchObject({ status: 'executed', result_ok: true });
    expect(done.result_summary).not.toMatch(/interrupted/);

    const rows = await q<{ status: string; error: string | null }>(`SELECT status, error FROM backups ORDER BY started_at`);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ status: 'failed' });
    expect(rows[0]!.error).toMatch(/abandoned/);
    expect(rows[1]).toEqual({ status: 'verified', error: null });
    expect(await q(`SELECT status, attempts FROM jobs WHERE dedupe_key = $1`, [`change-exec:${change!.id}`])).toEqual([{ status: 'done', attempts: 2 }]);
    const events = (await q<{ type: string }>(`SELECT type FROM events WHERE subject = $1 ORDER BY id`, [`change:${change!.id}`])).map((e) => e.type);
    expect(events).toEqual(['change.started', 'change.executed']);
    expect(await q(`SELECT count(*)::int AS n FROM change_requests`)).toEqual([{ n: 1 }]);

    // What was posted (later edits turn the start message into the outcome): one start per run, the second says why.
    const starts = slack.callsTo('chat.postMessage').filter((c) => c['channel'] === 'C0GENERAL' && String(c['text']).includes('Backup of *shop* started')).map((c) => String(c['text']));
    expect(starts).toHaveLength(2);
    expect(starts[0]).not.toContain('started again');
    expect(starts[1]).toContain('started again: the replica running it stopped');
    const dms = slack.messagesIn('DU0ALICE').map((m) => m.text).filter((t) => t.includes(`Change #${change!.id}`));
    expect(dms).toHaveLength(1);
    expect(dms[0]).toContain('done');
  }, 400_000);
});
