/**
 * Graceful shutdown of real processes: SIGTERM while an HTTP request and a slash command's
 * follow-up work are in flight, and while a queued job runs (stopping cleanly via
 * ctx.shutdownSignal, or ignoring it until the budget runs out). A real backup under SIGTERM is
 * in test/backups/shutdown.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';
import { sign } from '../support/app.js';
import { getJson, killIfRunning, startFirebreak, type FirebreakProcess } from './support/process.js';

const SECRET = `shutdown-signing-${randomBytes(6).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-shutdown-'));
const dbs: TestDatabase[] = [];
const procs: FirebreakProcess[] = [];
let slack: FakeSlack;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  for (const c of ['incidents', 'ops', 'approvals', 'alerts']) slack.addChannel(c);
});
afterAll(async () => {
  await Promise.all(procs.map(killIfRunning));
  await slack?.stop();
  await Promise.all(dbs.map((d) => d.drop()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(opts: { entry?: string; yaml: string }): Promise<{ p: FirebreakProcess; db: TestDatabase }> {
  const db = await createTestDatabase('fb_shutdown');
  dbs.push(db);
  const cfg = path.join(dir, `${db.name}.yml`);
  writeFileSync(cfg, opts.yaml);
  const p = await startFirebreak(
    { DATABASE_URL: db.url, SLACK_BOT_TOKEN: 'xoxb-shutdown-test', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url, FIREBREAK_CONFIG: cfg, FIREBREAK_DATA_DIR: dir },
    { entry: opts.entry },
  );
  procs.push(p);
  return { p, db };
}

function slash(p: FirebreakProcess, command: string, text: string) {
  const body = new URLSearchParams({
    command, text, user_id: 'U0ALICE', user_name: 'alice', channel_id: 'C0GENERAL', team_id: 'T0TEST',
    trigger_id: `trig-${randomBytes(6).toString('hex')}`, response_url: slack.responseUrl(randomBytes(4).toString('hex')), api_app_id: 'A0TEST',
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return fetch(`${p.url}/slack/events`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SECRET, ts, body) },
  });
}

const LONG_JOB = 'test/ops/support/long-job-replica.ts';
const enqueueLongJob = (db: TestDatabase, payload: object) =>
  db.pool.query(`INSERT INTO jobs (queue, payload, run_at) VALUES ('test.long', $1, now()) RETURNING id`, [JSON.stringify(payload)]).then((r) => r.rows[0].id as number);
const outcomes = async (db: TestDatabase) =>
  (await db.pool.query(`SELECT payload->>'outcome' AS outcome FROM events WHERE type = 'test.long_job' ORDER BY id`)).rows.map((r) => r.outcome as string);

describe('SIGTERM', () => {
  it('during an HTTP request and a slash command\'s follow-up work: readiness 503 first, both finish, exit 0', async () => {
    // A generous check timeout: on a loaded machine the slow auth.test must still count as up.
    const { p, db } = await start({ yaml: 'ops:\n  drainDelaySeconds: 1\n  chatCheckCacheSeconds: 0\n  checkTimeoutSeconds: 25\n' });
    // Slack answers slowly: the readiness probe (auth.test) and the war room (conversations.create) are in flight.
    slack.slow('auth.test', 2500);
    slack.slow('conversations.create', 2500);
    const inflight = getJson(`${p.url}/health/ready`);
    const ack = await slash(p, '/incident', 'declare P2 Shutdown drill in progress');
    expect(ack.status).toBe(200);
    // SIGTERM only once the follow-up work is in flight (its slow conversations.create has arrived).
    await expect.poll(() => slack.callsTo('conversations.create').length, { timeout: 30_000 }).toBeGreaterThan(0);

    p.kill('SIGTERM');
    await p.waitForLog((l) => l.action === 'shutdown.begin');
    const during = await getJson(`${p.url}/health/ready`);
    expect(during.status).toBe(503);
    expect(during.body.status).toBe('draining');

    const finished = await inflight;
    expect(finished.status).toBe(200);
    expect((finished.body.checks as Record<string, { status: string }>).chat!.status).toBe('up');
    expect(await p.exited).toBe(0);
    slack.slow('auth.test', 0);
    slack.slow('conversations.create', 0);

    // The declare's follow-up work finished before exit: the incident has its channel.
    const { rows } = await db.pool.query(`SELECT channel_id FROM incidents WHERE title = 'Shutdown drill in progress'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].channel_id).toMatch(/^C/);
    const done = p.logs.find((l) => l.action === 'shutdown.done')!;
    expect(done).toMatchObject({ requestsCutOff: 0, backgroundInterrupted: 0, jobsInterrupted: false });
  });

});

// Each runs its own process and database, so they run side by side to keep the file fast.
describe.concurrent('SIGTERM during a long job', () => {
  it('during a long job that does not fit: ctx.shutdownSignal stops it, it records itself interrupted (never done), exit 0 within the budget', async () => {
    const { p, db } = await start({ entry: LONG_JOB, yaml: 'ops:\n  shutdownBudgetSeconds: 3\n' });
    const id = await enqueueLongJob(db, { seconds: 60 });
    await p.waitForLog((l) => l.action === 'test.long_job.started');
    const sent = Date.now();
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const seconds = (Date.now() - sent) / 1000;
    expect(seconds).toBeLessThan(3 + 3);
    expect(await outcomes(db)).toEqual(['interrupted']);
    const job = (await db.pool.query('SELECT status, last_error FROM jobs WHERE id = $1', [id])).rows[0];
    // Back in the queue for a surviving replica, not marked done.
    expect(job.status).toBe('pending');
    expect(job.last_error).toContain('stopped by graceful shutdown');
    console.log(`interrupted long job: process exited ${seconds.toFixed(1)} s after SIGTERM with a 3 s budget`);
  });

  it('during a job that ignores the signal: the budget still bounds the exit and the interruption is recorded', async () => {
    const { p, db } = await start({ entry: LONG_JOB, yaml: 'ops:\n  shutdownBudgetSeconds: 2\n' });
    await enqueueLongJob(db, { seconds: 60, ignoreAbort: true });
    await p.waitForLog((l) => l.action === 'test.long_job.started');
    const sent = Date.now();
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const seconds = (Date.now() - sent) / 1000;
    expect(seconds).toBeLessThan(2 + 4);
    console.log(`job ignoring the signal: process exited ${seconds.toFixed(1)} s after SIGTERM with a 2 s budget`);
    const ev = (await db.pool.query(`SELECT payload FROM events WHERE type = 'ops.shutdown_interrupted'`)).rows;
    expect(ev).toHaveLength(1);
    expect(ev[0].payload).toMatchObject({ signal: 'SIGTERM', jobsInterrupted: true });
    expect(await outcomes(db)).toEqual([]);
  });
});
