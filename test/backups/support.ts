/**
 * Pieces the backups tests share: backup records written straight to the store functions (for
 * retention), and, for the tests that kill or stop a real Firebreak process mid-backup, the fake
 * Slack it talks to, a source database slow enough to dump that the signal lands while the dump
 * runs, and the signed `/backup now`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { createEmptyDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';
import { sign } from '../support/app.js';
import type { FirebreakProcess } from '../ops/support/process.js';
import { objectKeys, type BackupRecord } from '../../src/backups/model.js';
import { findBackup, insertRunningBackup, markVerified } from '../../src/backups/store.js';
import type { Queryable } from '../../src/db/pool.js';
import type { LocalObjectStore } from '../../src/storage/index.js';

let n = 0;
/** A verified backup of `main` taken at `at` (ids unique within the test file), `over` changed. */
export function backupRecord(at: Date | string, over: Partial<BackupRecord> = {}): BackupRecord {
  const d = new Date(at);
  const id = `${d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-main-${(n++).toString(16).padStart(4, '0')}`;
  const keys = objectKeys('firebreak', 'main', id, d);
  return {
    id, database: 'main', tier: 'hourly', status: 'verified', ...keys, storeLocation: 'test', sha256: 'x', rawBytes: 1, storedBytes: 1,
    format: 'f', recipient: 'age1', serverVersion: '15', pgDumpVersion: '15', snapshotAt: d, startedAt: d, finishedAt: d, verifiedAt: d,
    verification: {}, rowCounts: null, requestedBy: 't', error: null, expiredAt: null, ...over,
  };
}

/** Records a verified backup taken at `at`, with a stand-in object and manifest in `store`; returns its row. */
export async function storeVerifiedBackup(pool: Queryable, store: LocalObjectStore, at: string): Promise<BackupRecord> {
  const r = backupRecord(at);
  await insertRunningBackup(pool, r);
  await markVerified(pool, r.id, r);
  await store.putSmall(r.objectKey, 'object');
  await store.putSmall(r.manifestKey, '{}');
  return (await findBackup(pool, r.id))!;
}

/** The channels a Firebreak process posts to, and #general where the slash command is run. */
export async function startProcessSlack(): Promise<FakeSlack> {
  const slack = await new FakeSlack().start();
  for (const c of ['incidents', 'ops', 'approvals', 'alerts']) slack.addChannel(c);
  slack.addChannel('general', { id: 'C0GENERAL' });
  return slack;
}

/** An `orders` table of `rows` poorly compressible rows (about 130 bytes each once dumped). */
export async function createBulkDatabase(prefix: string, rows: number): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const data = await createEmptyDatabase(prefix);
  const c = new pg.Client({ connectionString: data.url });
  await c.connect();
  // Inlined: CREATE TABLE AS takes no bind parameters.
  await c.query(`CREATE TABLE orders AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) AS note FROM generate_series(1, ${Math.trunc(rows)}) g`);
  await c.end();
  return data;
}

/** `/backup now shop` from U0ALICE in #general, signed as Slack would sign it. */
export async function postBackupNow(p: FirebreakProcess, slack: FakeSlack, signingSecret: string): Promise<void> {
  const body = new URLSearchParams({
    command: '/backup', text: 'now shop', user_id: 'U0ALICE', user_name: 'alice', channel_id: 'C0GENERAL', team_id: 'T0TEST',
    trigger_id: `trig-${randomBytes(6).toString('hex')}`, response_url: slack.responseUrl(randomBytes(4).toString('hex')), api_app_id: 'A0TEST',
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${p.url}/slack/events`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(signingSecret, ts, body) },
  });
  expect(res.status).toBe(200);
}
