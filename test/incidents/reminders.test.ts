import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';
import { REMINDER_QUEUE } from '../../src/incidents/reminders.js';

/**
 * Reminders live in PostgreSQL: a restart between declare and the due time still sends the
 * reminder exactly once, and two replicas racing for it send it once.
 */
let db: TestDatabase;
let slack: FakeSlack;
const clock = new FakeClock('2026-04-01T08:00:00Z');
const started: TestApp[] = [];

const boot = async () => {
  const app = await startTestApp({ clock, shared: { db, slack } });
  started.push(app);
  return app;
};
const remindersIn = (channel: string) =>
  slack.messagesIn(channel).filter((m) => JSON.stringify(m.blocks ?? []).includes('post a stakeholder update'));
const declare = (app: TestApp, title: string) => declareIncident(app, 'P0', title);

const missedOf = async (id: number) => (await db.pool.query('SELECT missed_reminders FROM incidents WHERE id = $1', [id])).rows[0].missed_reminders as number;

/** The reminder comes due and its first attempt fails (having posted `postedFirst`); the retry sends it once. */
const firstAttemptFailsThenRetry = async (app: TestApp, inc: { id: number; channel: string }, postedFirst: number) => {
  clock.advance(15 * MINUTE); // P0 cadence
  await app.app.ctx.jobs.tick();
  expect(remindersIn(inc.channel)).toHaveLength(postedFirst);
  expect(await missedOf(inc.id)).toBe(0);
  clock.advance(1 * MINUTE); // past the queue's 30 s back-off
  await app.app.ctx.jobs.tick();
  expect(remindersIn(inc.channel)).toHaveLength(1);
  expect(await missedOf(inc.id)).toBe(1);
};

beforeAll(async () => {
  db = await createTestDatabase();
  slack = await new FakeSlack().start();
  slack.addChannel('incidents');
});
afterAll(async () => {
  for (const a of started) await a.stop().catch(() => {});
  await slack.stop();
  await db.drop();
});

describe('reminders across restarts and replicas', () => {
  it('a restart between declare and the due time still reminds once', async () => {
    const first = await boot();
    const inc = await declare(first, 'Restarted mid incident');
    await first.stop();
    clock.advance(15 * MINUTE); // P0 cadence
    const second = await boot();
    await second.settle();
    await second.settle();
    expect(remindersIn(inc.channel)).toHaveLength(1);
    await second.stop();
    const third = await boot();
    await third.settle();
    expect(remindersIn(inc.channel)).toHaveLength(1);
    await third.stop();
  });

  it('a reminder due while the war room is still being set up waits for the channel, then goes out once', async () => {
    const app = await boot();
    const inc = await declare(app, 'Reminder before the war room');
    // The state a queued setup leaves: no channel recorded yet.
    await db.pool.query('UPDATE incidents SET channel_id = NULL WHERE id = $1', [inc.id]);
    clock.advance(15 * MINUTE);
    await app.settle();
    const sent = async () => (await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE incident_id = $1 AND type = 'incident.reminder_sent'`, [inc.id])).rows[0].n;
    expect(await sent()).toBe(0);
    await db.pool.query('UPDATE incidents SET channel_id = $2 WHERE id = $1', [inc.id, inc.channel]);
    clock.advance(MINUTE);
    await app.settle();
    expect(remindersIn(inc.channel)).toHaveLength(1);
    expect(await sent()).toBe(1);
    await app.stop();
  });

  it('two replicas ticking at the same moment send one reminder', async () => {
    const a = await boot();
    const b = await boot();
    const inc = await declare(a, 'Two replicas');
    clock.advance(15 * MINUTE);
    const ran = await Promise.all([a.app.ctx.jobs.tick(), b.app.ctx.jobs.tick(), a.app.ctx.jobs.tick(), b.app.ctx.jobs.tick()]);
    expect(ran.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
    expect(remindersIn(inc.channel)).toHaveLength(1);
    const missed = (await db.pool.query('SELECT missed_reminders FROM incidents WHERE id = $1', [inc.id])).rows[0].missed_reminders;
    expect(missed).toBe(1);
    await a.stop();
    await b.stop();
  });

  it('a stray second copy of a reminder job (a race between two schedulers) does nothing', async () => {
    const a = await boot();
    const b = await boot();
    const inc = await declare(a, 'Stray copy');
    // Copy the pending reminder under another key, as a lost race between two schedules would.
    await db.pool.query(
      `INSERT INTO jobs (queue, dedupe_key, payload, run_at)
       SELECT queue, dedupe_key || ':copy', payload, run_at FROM jobs
        WHERE queue = $1 AND status = 'pending' AND (payload->>'incidentId')::bigint = $2`,
      [REMINDER_QUEUE, inc.id],
    );
    clock.advance(15 * MINUTE);
    await Promise.all([a.app.ctx.jobs.tick(), b.app.ctx.jobs.tick()]);
    expect(remindersIn(inc.channel)).toHaveLength(1);
    // The next slot is scheduled exactly once.
    const pending = (await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND status = 'pending' AND (payload->>'incidentId')::bigint = $2`, [REMINDER_QUEUE, inc.id])).rows[0].n;
    expect(pending).toBe(1);
    await a.stop();
    await b.stop();
  });

  it('a Slack failure while reminding is retried, not lost and not doubled', async () => {
    // Earlier incidents' reminders would take the injected failure: this test wants the queue to itself.
    await db.pool.query("UPDATE jobs SET status = 'cancelled' WHERE status = 'pending'");
    const a = await boot();
    const inc = await declare(a, 'Slack hiccup');
    slack.fail('chat.postMessage', 'internal_error');
    await firstAttemptFailsThenRetry(a, inc, 0);
    await a.stop();
  });

  it('a reminder posted whose record then failed (a PostgreSQL restart) is not posted again by the retry', async () => {
    await db.pool.query("UPDATE jobs SET status = 'cancelled' WHERE status = 'pending'");
    const a = await boot();
    const inc = await declare(a, 'Commit lost after the post');
    // The first reminder_sent insert fails after the post went out; a sequence, unlike a row,
    // is not rolled back with the transaction, so only the first attempt fails.
    await db.pool.query(`
      CREATE SEQUENCE reminder_fault;
      CREATE FUNCTION reminder_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'incident.reminder_sent' AND nextval('reminder_fault') = 1 THEN
          RAISE EXCEPTION 'injected: connection lost before commit';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER reminder_fault BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION reminder_fault();`);
    try {
      await firstAttemptFailsThenRetry(a, inc, 1);
      const sent = (await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE incident_id = $1 AND type = 'incident.reminder_sent'`, [inc.id])).rows[0].n;
      expect(sent).toBe(1);
    } finally {
      await db.pool.query('DROP TRIGGER reminder_fault ON events; DROP FUNCTION reminder_fault(); DROP SEQUENCE reminder_fault');
      await a.stop();
    }
  });
});
