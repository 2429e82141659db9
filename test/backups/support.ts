/**
 * A real Firebreak process taking a real `/backup now` (pg_dump, zstd, encryption, the local
 * object store), for the tests that kill or stop it mid-backup: the fake Slack it talks to, a
 * source database slow enough to dump that the signal lands while the dump runs, and the signed
 * slash command.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { createEmptyDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';
import { sign } from '../support/app.js';
import type { FirebreakProcess } from '../ops/support/process.js';

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
