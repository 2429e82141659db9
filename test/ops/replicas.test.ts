/**
 * Two real Firebreak processes on one PostgreSQL: either takes any Slack request, a Slack
 * retry landing on the other replica is not run twice, scheduled work runs once per slot,
 * and when the scheduler leader is killed with SIGKILL the survivor takes the schedules over.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';
import { sign } from '../support/app.js';
import { getJson, killIfRunning, startFirebreak, type FirebreakProcess, type LogLine } from './support/process.js';

const SECRET = `replica-signing-${randomBytes(6).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-replicas-'));
let db: TestDatabase;
let slack: FakeSlack;
let a: FirebreakProcess | undefined;
let b: FirebreakProcess | undefined;

function env(): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    SLACK_BOT_TOKEN: 'xoxb-replica-test',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    FIREBREAK_CONFIG: path.join(dir, 'firebreak.yml'),
    FIREBREAK_DATA_DIR: dir,
  };
}

async function slash(p: FirebreakProcess, text: string, triggerId: string): Promise<{ status: number; responseId: string }> {
  const responseId = randomBytes(4).toString('hex');
  const body = new URLSearchParams({
    command: '/runbook', text, user_id: 'U0ALICE', user_name: 'alice', channel_id: 'C0GENERAL', team_id: 'T0TEST',
    trigger_id: triggerId, response_url: slack.responseUrl(responseId), api_app_id: 'A0TEST',
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${p.url}/slack/events`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SECRET, ts, body) },
  });
  return { status: res.status, responseId };
}

const until = async (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const housekeepingSlots = (p: FirebreakProcess) => p.logs.filter((l) => l.action === 'ops.housekeeping').map((l) => String(l.slot));
const leaderOf = async (p: FirebreakProcess) => ((await getJson(`${p.url}/health/ready`)).body.scheduler as { leader: boolean }).leader;

beforeAll(async () => {
  db = await createTestDatabase('fb_replicas');
  slack = await new FakeSlack().start();
  // Every second, so a test sees many slots; a 3 s lease so failover is quick to observe.
  writeFileSync(path.join(dir, 'firebreak.yml'), 'ops:\n  housekeeping:\n    cron: "* * * * * *"\n  scheduler:\n    leaseTtlSeconds: 3\n    renewSeconds: 1\n');
  [a, b] = await Promise.all([startFirebreak(env()), startFirebreak(env())]);
});

afterAll(async () => {
  await Promise.all([killIfRunning(a), killIfRunning(b)]);
  await slack?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('two replicas on one PostgreSQL', () => {
  it('either replica answers any Slack request; a retry delivered to the other replica runs once', async () => {
    const r1 = await slash(a!, 'list', `trig-a-${randomBytes(4).toString('hex')}`);
    const r2 = await slash(b!, 'list', `trig-b-${randomBytes(4).toString('hex')}`);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    await until('both replies', () => slack.replies(r1.responseId).length > 0 && slack.replies(r2.responseId).length > 0);
    expect(slack.responses.find((r) => r.url === `/response/${r2.responseId}`)!.body.text).toContain('6 runbooks');

    const trigger = `trig-retry-${randomBytes(4).toString('hex')}`;
    const first = await slash(a!, 'backup-stale', trigger);
    const retry = await slash(b!, 'backup-stale', trigger);
    expect(retry.status).toBe(200);
    // Both deliveries race for the request key after their acks; whichever wins answers, once.
    const answers = () => slack.replies(first.responseId).length + slack.replies(retry.responseId).length;
    await until('an answer', () => answers() > 0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(answers()).toBe(1);
  });

  it('runs each scheduled slot exactly once across replicas; after kill -9 of the leader the survivor takes over', async () => {
    await until('one leader', async () => [await leaderOf(a!), await leaderOf(b!)].filter(Boolean).length === 1);
    await until('a few slots', () => housekeepingSlots(a!).length + housekeepingSlots(b!).length >= 3);
    const [leader, survivor] = (await leaderOf(a!)) ? [a!, b!] : [b!, a!];

    leader.kill('SIGKILL');
    expect(await leader.exited).toBe('SIGKILL');
    const killedAt = Date.now();
    const took = await survivor.waitForLog((l) => l.action === 'scheduler.lead' && Date.parse(String(l.time)) >= killedAt - 50, 60_000);
    const takeoverSeconds = (Date.parse(String(took.time)) - killedAt) / 1000;
    expect(takeoverSeconds).toBeLessThan(60);
    // Slots after the takeover are fired and run by the survivor.
    await until('slots after the takeover', () => housekeepingSlots(survivor).filter((s) => Date.parse(s) > Date.parse(String(took.time))).length >= 2);
    expect(await leaderOf(survivor)).toBe(true);

    const all = [...housekeepingSlots(leader), ...housekeepingSlots(survivor)];
    expect(new Set(all).size).toBe(all.length);
    const { rows } = await db.pool.query<{ slots: number; keys: number }>(
      `SELECT count(*)::int AS slots, count(DISTINCT dedupe_key)::int AS keys FROM jobs WHERE queue = 'schedule' AND payload->>'task' = 'ops:housekeeping'`,
    );
    expect(rows[0]!.slots).toBe(rows[0]!.keys);
    // Slots that passed while nobody led are reported, not silently lost.
    const missed = survivor.logs.filter((l: LogLine) => l.action === 'scheduler.missed');
    expect(missed.every((l) => l.task === 'ops:housekeeping')).toBe(true);
    console.log(`failover: survivor took the scheduler lease ${takeoverSeconds.toFixed(1)} s after kill -9 (lease TTL 3 s, renew 1 s); ${missed.length} slots reported missed`);

    // The survivor shuts down cleanly and hands the lease back.
    survivor.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
    const lease = await db.pool.query('SELECT holder FROM leases WHERE name = $1', ['scheduler']);
    expect(lease.rows).toEqual([]);
  });
});
