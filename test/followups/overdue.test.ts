import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import type { LeaseScheduler } from '../../src/jobs/scheduler.js';
import { postWeeklyDigest, queueOverdueReminders, queueWeeklyDigest, sendOverdueReminder, weekOf, type OverdueDeps } from '../../src/followups/overdue.js';
import { configSchema } from '../../src/config/schema.js';
import type { Job } from '../../src/jobs/queue.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * Weekly overdue reminders and the weekly digest on two replicas sharing one database and one
 * (fake) Slack: each overdue follow-up with an owner gets one DM a week whichever replica runs
 * the slot, a failed DM is retried and sent once, an unmapped owner is listed in the digest,
 * and the digest is posted once a week.
 */
const clock = new FakeClock('2026-12-06T20:00:00Z'); // a Sunday evening
const HOUR = 3_600_000;

let a: TestApp;
let b: TestApp;
let incidentId: number;
const ids: Record<string, number> = {};

async function incident(title: string, severity: string, declaredAt: Date, resolvedAt: Date | null): Promise<number> {
  const { rows } = await a.db.pool.query(
    `INSERT INTO incidents (title, severity, status, declared_by, declared_at, resolved_at) VALUES ($1, $2, $3, 'U0ALICE', $4, $5) RETURNING id`,
    [title, severity, resolvedAt ? 'resolved' : 'monitoring', declaredAt, resolvedAt],
  );
  return Number(rows[0].id);
}

async function followup(key: string, f: { title: string; owner?: string; label?: string; due: string; status?: string }): Promise<void> {
  const { rows } = await a.db.pool.query(
    `INSERT INTO followups (incident_id, title, owner_user_id, owner_label, due_on, status, source, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'note', 'U0ALICE', $7) RETURNING id`,
    [incidentId, f.title, f.owner ?? null, f.label ?? null, f.due, f.status ?? 'open', new Date('2026-11-20T10:00:00Z')],
  );
  ids[key] = Number(rows[0].id);
}

const dms = (user: string) => a.slack.messagesIn(`D${user}`);
const digests = () => a.slack.messagesIn('incidents').filter((m) => m.text.startsWith('Weekly follow-ups digest'));
const blockText = (m: { blocks?: unknown[] }) => JSON.stringify(m.blocks ?? []);
const schedulers = () => [a.app.ctx.scheduler as LeaseScheduler, b.app.ctx.scheduler as LeaseScheduler];

/** Both replicas fire their due slots and run their job loops until nothing is left to do now. */
async function bothReplicasRun(): Promise<void> {
  await Promise.all(schedulers().map((s) => s.enqueueDueSlots()));
  for (let i = 0; i < 5; i++) {
    const ran = await Promise.all([a.app.ctx.jobs.tick(), b.app.ctx.jobs.tick()]);
    if (ran[0] + ran[1] === 0) break;
  }
}

const deps = (t: TestApp): OverdueDeps => ({
  pool: t.app.ctx.pool, clock: t.app.ctx.clock, log: t.app.ctx.log, jobs: t.app.ctx.jobs, chat: t.app.ctx.chat, digestChannel: 'incidents',
});

beforeAll(async () => {
  a = await startTestApp({ clock });
  b = await startTestApp({ clock, shared: { db: a.db, slack: a.slack } });
  incidentId = await incident('Checkout <!here> down', 'P1', new Date('2026-11-20T09:00:00Z'), new Date('2026-11-20T11:00:00Z'));
  await followup('bob', { title: 'Add an index on <orders> *now*', owner: 'U0BOB', due: '2026-12-01' });
  await followup('carol', { title: 'Alert on queue depth', owner: 'U0CAROL', due: '2026-12-02' });
  await followup('unmapped', { title: 'Write the runbook', label: 'dana@example.com', due: '2026-11-30' });
  await followup('later', { title: 'Load test', owner: 'U0BOB', due: '2026-12-20' });
  await followup('done', { title: 'Roll back', owner: 'U0BOB', due: '2026-11-21', status: 'done' });
  // Last week's incidents (the seven days before Monday 09:00) and one older.
  await incident('Search slow', 'P2', new Date('2026-12-03T10:00:00Z'), new Date('2026-12-03T11:05:00Z'));
  await incident('Login errors', 'P3', new Date('2026-12-05T10:00:00Z'), null);
  await incident('Old one', 'P3', new Date('2026-11-10T10:00:00Z'), null);
  // The schedules are first seen on Sunday: Monday 09:00 is their first slot.
  await bothReplicasRun();
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

describe('weekly overdue reminders', () => {
  it('weekOf is the Monday (UTC) of the ISO week', () => {
    expect(weekOf(new Date('2026-12-07T09:00:00Z'))).toBe('2026-12-07');
    expect(weekOf(new Date('2026-12-13T23:59:59Z'))).toBe('2026-12-07');
    expect(weekOf(new Date('2026-12-06T23:59:59Z'))).toBe('2026-11-30');
  });

  it('DMs each owner of an overdue follow-up once across two replicas; a failed DM is retried and sent once', async () => {
    expect(dms('U0BOB')).toHaveLength(0);
    clock.set('2026-12-07T09:00:30Z');
    a.slack.fail('chat.postMessage', 'internal_error', { channel: 'DU0CAROL' });
    await bothReplicasRun();

    const bob = dms('U0BOB');
    expect(bob).toHaveLength(1);
    expect(bob[0]!.text).toContain(`Overdue follow-up from INC-${incidentId} (due 2026-12-01)`);
    // Text from outside is escaped, in the notification text and the blocks: no <orders> tag, no @here.
    expect(bob[0]!.text).toContain('Add an index on &lt;orders&gt; *now*');
    const bobBlocks = blockText(bob[0]!);
    expect(bobBlocks).toContain('Add an index on &lt;orders&gt; *now*');
    expect(bobBlocks).toContain('Checkout &lt;!here&gt; down');
    expect(bobBlocks).toContain('6 days ago');

    // Carol's DM failed: her reminder is claimed (no second claim this week) and its job waits to retry.
    expect(dms('U0CAROL')).toHaveLength(0);
    const claimed = await a.db.pool.query(`SELECT followup_id::int AS id FROM followup_reminders WHERE week = '2026-12-07' ORDER BY followup_id`);
    expect(claimed.rows.map((r) => r.id)).toEqual([ids.bob, ids.carol]);
    const pending = await a.db.pool.query(`SELECT attempts FROM jobs WHERE queue = 'followup.reminder' AND status = 'pending'`);
    expect(pending.rows).toEqual([{ attempts: 1 }]);

    clock.advance(31_000);
    await bothReplicasRun();
    expect(dms('U0CAROL')).toHaveLength(1);
    expect(dms('U0CAROL')[0]!.text).toContain('Alert on queue depth');
    clock.advance(HOUR);
    await bothReplicasRun();
    expect(dms('U0CAROL')).toHaveLength(1);
    expect(dms('U0BOB')).toHaveLength(1);
    // Unmapped owner and not-yet-due or done follow-ups are never DM'd.
    expect(a.slack.callsTo('conversations.open').map((c) => c.users).sort()).toEqual(['U0BOB', 'U0CAROL', 'U0CAROL']);
  });

  it('a second slot in the same week (another cron, a manual run) sends nothing more', async () => {
    expect(await queueOverdueReminders(deps(b), new Date('2026-12-09T09:00:00Z'))).toBe(0);
    await bothReplicasRun();
    expect(dms('U0BOB')).toHaveLength(1);
  });
});

describe('the weekly digest', () => {
  it('is posted once in the incidents channel: follow-ups by incident and owner, the unmapped owners, last week', async () => {
    expect(digests()).toHaveLength(1);
    const d = digests()[0]!;
    expect(d.text).toBe('Weekly follow-ups digest (week of 2026-12-07): 4 open, 3 overdue; 2 incident(s) declared last week.');
    const text = blockText(d);
    expect(text).toContain(`*INC-${incidentId}* [P1] Checkout &lt;!here&gt; down`);
    expect(text).toContain('<@U0BOB> · :warning: overdue 6d (due 2026-12-01)');
    expect(text).toContain('<@U0BOB> · due 2026-12-20');
    expect(text).toContain('*Overdue with no owner in Slack*');
    expect(text).toContain(`• INC-${incidentId} · Write the runbook — dana@example.com _(not in Slack)_`);
    expect(text).toContain('*Last week: 2 incidents declared* (P2 1 · P3 1), 1 resolved.');
    expect(text).toContain('Search slow — resolved in 1h 05m');
    expect(text).toContain('Login errors — still open (monitoring)');
    expect(text).not.toContain('Old one');
    expect(text).not.toContain('Roll back');
  });

  it('a second digest slot in the same week posts nothing; the next week gets its own digest and reminders', async () => {
    await queueWeeklyDigest(deps(a), new Date('2026-12-10T09:00:00Z'));
    await bothReplicasRun();
    expect(digests()).toHaveLength(1);

    clock.set('2026-12-14T09:00:20Z');
    await bothReplicasRun();
    expect(digests()).toHaveLength(2);
    expect(digests()[1]!.text).toContain('(week of 2026-12-14)');
    expect(dms('U0BOB')).toHaveLength(2);
    expect(dms('U0CAROL')).toHaveLength(2);
  });
});

describe('retries and limits', () => {
  const job = (queue: string, payload: Record<string, unknown>, attempts: number): Job => ({ id: 0, queue, dedupeKey: null, payload, runAt: clock.now(), attempts, requestId: null });

  it('a retry finds the DM its earlier attempt posted (Slack took it, the answer was lost) and does not post it again', async () => {
    await followup('erin', { title: 'Rotate the key', owner: 'U0ERIN', due: '2026-12-01' });
    const payload = { followupId: ids.erin, week: '2026-12-14', today: '2026-12-14' };
    const dm = await a.app.ctx.chat.openDirect('U0ERIN');
    await a.app.ctx.chat.post(dm, { text: 'the first attempt' }, { tag: { incidentId, step: `followup-reminder:${ids.erin}:2026-12-14` } });
    expect(await sendOverdueReminder(deps(b), job('followup.reminder', payload, 2))).toBe('found');
    expect(dms('U0ERIN').map((m) => m.text)).toEqual(['the first attempt']);
    // A first attempt does not look (nothing to find): it posts.
    expect(await sendOverdueReminder(deps(b), job('followup.reminder', { ...payload, week: '2026-12-21', today: '2026-12-21' }, 1))).toBe('sent');
    expect(dms('U0ERIN')).toHaveLength(2);
    // Closed since the claim: skipped.
    await a.db.pool.query(`UPDATE followups SET status = 'done', closed_at = $2 WHERE id = $1`, [ids.erin, clock.now()]);
    expect(await sendOverdueReminder(deps(b), job('followup.reminder', { ...payload, week: '2026-12-28', today: '2026-12-28' }, 1))).toBe('skipped');
    expect(dms('U0ERIN')).toHaveLength(2);
  });

  it('a digest of hundreds of follow-ups stays within Slack\'s limits and says what it left out', async () => {
    for (let i = 0; i < 300; i++) await followup(`bulk${i}`, { title: `Follow-up ${i} ${'x'.repeat(200)}`, owner: 'U0BOB', due: '2026-12-01' });
    expect(await postWeeklyDigest(deps(a), job('followup.digest', { week: '2027-01-04', slot: '2027-01-04T09:00:00Z' }, 1))).toBe('sent');
    const d = digests().at(-1)!;
    expect(d.text).toContain('(week of 2027-01-04): 304 open, 304 overdue');
    expect(blockText(d)).toMatch(/more lines not shown/);
    // The fake Slack checks every payload against Slack's limits (test/setup/slack-fidelity.ts).
  });

  it('refuses a bad cron in followups.reminders', () => {
    const r = configSchema.safeParse({ followups: { reminders: { cron: 'every monday' } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('node-cron expression');
    expect(configSchema.parse({}).followups.reminders).toEqual({ cron: '0 9 * * 1', digestCron: '0 9 * * 1' });
    expect(configSchema.parse({ followups: { reminders: { cron: '' } } }).followups.reminders.cron).toBe('');
  });
});
