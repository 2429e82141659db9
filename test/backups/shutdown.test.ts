/**
 * SIGTERM while a real backup runs (`/backup now` in a real Firebreak process: pg_dump, zstd,
 * encryption, the local object store). With room in the budget the backup finishes and is
 * verified before the process exits; without, it stops and is recorded interrupted, never good.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { generateIdentity } from '../../src/backups/age.js';
import { killIfRunning, startFirebreak, type FirebreakProcess } from '../ops/support/process.js';
import { createBulkDatabase, postBackupNow, startProcessSlack } from './support.js';

const SECRET = `backup-signing-${randomBytes(6).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-backup-shutdown-'));
const { recipient } = generateIdentity();
let data: { name: string; url: string; drop(): Promise<void> };
let slack: FakeSlack;
const states: TestDatabase[] = [];
const procs: FirebreakProcess[] = [];

beforeAll(async () => {
  slack = await startProcessSlack();
  // ~130 MB of poorly compressible rows: the dump takes long enough to be interrupted.
  data = await createBulkDatabase('fb_bkdata', 1_000_000);
});
afterAll(async () => {
  await Promise.all(procs.map(killIfRunning));
  await slack?.stop();
  await Promise.all(states.map((d) => d.drop()));
  await data?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function startWithBudget(seconds: number, zstdLevel = 3): Promise<{ p: FirebreakProcess; state: TestDatabase; storeDir: string }> {
  const state = await createTestDatabase('fb_bkstate');
  states.push(state);
  const storeDir = path.join(dir, state.name);
  const cfg = path.join(dir, `${state.name}.yml`);
  writeFileSync(cfg, JSON.stringify({
    backups: { databases: [{ name: 'shop', url: data.url }], schedules: [], storage: { localDir: storeDir }, encryption: { recipient }, zstdLevel },
    ops: { shutdownBudgetSeconds: seconds },
    // About shutdown, not approvals: backups on demand are a pre-approved standard change here.
    approvals: { actions: { 'backup.now': { preApproved: true } } },
  }));
  const p = await startFirebreak({ DATABASE_URL: state.url, SLACK_BOT_TOKEN: 'xoxb-backup-test', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url, FIREBREAK_CONFIG: cfg, FIREBREAK_DATA_DIR: dir });
  procs.push(p);
  return { p, state, storeDir };
}

async function untilRunning(state: TestDatabase): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await state.pool.query(`SELECT 1 FROM backups WHERE status = 'running'`)).rowCount === 0) {
    if (Date.now() > deadline) throw new Error('the backup never started');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the drain began with: the backup runs as a job (from the poll or the fast path after the approval) or as background work. */
const workInHand = (p: { logs: Array<Record<string, unknown>> }) => {
  const begin = p.logs.find((l) => l.action === 'shutdown.begin')!;
  return Number(begin['background'] ?? 0) + Number(begin['jobs'] ?? 0);
};

const backups = async (state: TestDatabase) =>
  (await state.pool.query<{ status: string; error: string | null }>('SELECT status, error FROM backups ORDER BY started_at')).rows;

describe('SIGTERM during a backup', () => {
  it('with room in the budget: the backup finishes verified, then the process exits 0', async () => {
    const { p, state } = await startWithBudget(60);
    await postBackupNow(p, slack, SECRET);
    await untilRunning(state);
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    // The signal really landed mid-backup: the drain began with the backup as background work.
    expect(workInHand(p)).toBeGreaterThanOrEqual(1);
    expect(await backups(state)).toEqual([{ status: 'verified', error: null }]);
  });

  it('when the budget runs out: the backup stops, is recorded interrupted (never good), nothing is left as a backup, exit 0', async () => {
    // zstd -19 makes this backup take far longer than the budget on any machine, and a 5 s
    // budget leaves the backup its tail of the budget to stop and record itself.
    const { p, state, storeDir } = await startWithBudget(5, 19);
    await postBackupNow(p, slack, SECRET);
    await untilRunning(state);
    const sent = Date.now();
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const seconds = (Date.now() - sent) / 1000;
    expect(seconds).toBeLessThan(5 + 2);
    expect(workInHand(p)).toBeGreaterThanOrEqual(1);
    const rows = await backups(state);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('interrupted');
    expect(rows[0]!.error).toMatch(/interrupted|shutting down/);
    // No manifest was written: nothing in the store claims to be a backup.
    const files = (function walk(d: string): string[] {
      try {
        return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [e.name]));
      } catch {
        return [];
      }
    })(storeDir);
    expect(files.filter((f) => f.includes('manifest'))).toEqual([]);
    console.log(`backup interrupted by SIGTERM: process exited ${seconds.toFixed(1)} s after the signal with a 5 s budget`);
  });
});
