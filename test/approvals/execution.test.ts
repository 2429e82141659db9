import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { eventsBy } from '../../src/events/log.js';
import { INTERRUPTED_SUMMARY, type ChangeService } from '../../src/approvals/service.js';

/**
 * A started change runs from the job queue: the job row, written with the start, lets a
 * second replica close a run whose replica died, instead of leaving it `executing` forever.
 * Two apps on one database stand for two replicas.
 */
const clock = new FakeClock(new Date());
let a: TestApp;
let b: TestApp | undefined;
/** Which replica ran which request's executor: the proof nothing ran twice. */
const runs: { replica: string; requestId: number | null; restarted?: boolean }[] = [];
/** Releases app A's hanging executor so A can shut down once the test is over. */
let release: () => void = () => {};
const hanging = new Promise<void>((r) => {
  release = r;
});
let releaseRestartable: () => void = () => {};
const hangingRestartable = new Promise<void>((r) => {
  releaseRestartable = r;
});

function registerActions(t: TestApp, replica: string): ChangeService {
  const gate = t.app.services.changes;
  gate.register<{ target: string }>({
    kind: 'test.quick',
    describe: (p) => `Quick change on ${p.target}`,
    execute: async (p, exec) => {
      runs.push({ replica, requestId: exec.requestId });
      return { ok: true, summary: `changed ${p.target}` };
    },
  });
  gate.register<Record<string, unknown>>({
    kind: 'test.standard',
    describe: () => 'A standard change',
    execute: async (_p, exec) => {
      runs.push({ replica, requestId: exec.requestId });
      return { ok: true, summary: 'done as standard' };
    },
  });
  gate.register<{ target: string }>({
    kind: 'test.hang',
    describe: (p) => `Long backup of ${p.target}`,
    execute: async (_p, exec) => {
      runs.push({ replica, requestId: exec.requestId });
      await hanging;
      return { ok: true, summary: 'finished after its replica was declared dead' };
    },
  });
  gate.register<{ target: string }>({
    kind: 'test.restartable',
    restartable: true,
    describe: (p) => `Restartable backup of ${p.target}`,
    execute: async (_p, exec) => {
      runs.push({ replica, requestId: exec.requestId, restarted: exec.restarted });
      // Replica A never gets past this point (it "dies"); whoever starts it again finishes.
      if (replica === 'A') await hangingRestartable;
      return { ok: true, summary: `backed up on ${replica}` };
    },
  });
  return gate;
}

const config = {
  approvals: {
    approvers: ['U0BOB'],
    actions: { 'test.quick': { approvalsRequired: 1 }, 'test.hang': { approvalsRequired: 1 }, 'test.standard': { preApproved: true }, 'test.restartable': { preApproved: true } },
  },
};

beforeAll(async () => {
  a = await startTestApp({ clock, config });
  registerActions(a, 'A');
}, 120_000);
afterAll(async () => {
  release();
  releaseRestartable();
  await b?.stop();
  await a.stop();
});

const row = async (id: number) => (await a.db.pool.query('SELECT * FROM change_requests WHERE id = $1', [id])).rows[0];
const job = async (id: number) => (await a.db.pool.query(`SELECT * FROM jobs WHERE dedupe_key = $1`, [`change-exec:${id}`])).rows[0];
const types = async (id: number) => (await eventsBy(a.db.pool, { subject: `change:${id}` })).map((e) => e.type);

async function requestAs(gate: ChangeService, kind: string, target: string): Promise<number> {
  const out = await gate.request(kind, { target }, { userId: 'U0ALICE', channelId: 'C0GENERAL' });
  expect(out.status).toBe('pending');
  return (out as { requestId: number }).requestId;
}

describe('change execution as a durable job', () => {
  it('runs an approved change once from its job and records the outcome', async () => {
    const gate = a.app.services.changes;
    const id = await requestAs(gate, 'test.quick', 'orders');
    expect((await gate.approve(id, 'U0BOB')).status).toBe('approved');
    await a.settle();
    expect(runs.filter((r) => r.requestId === id)).toEqual([{ replica: 'A', requestId: id }]);
    expect(await row(id)).toMatchObject({ status: 'executed', result_ok: true, result_summary: 'changed orders' });
    expect(await job(id)).toMatchObject({ queue: 'approvals.execute', status: 'done', attempts: 1, payload: { requestId: id, approvers: ['U0BOB'] } });
    expect(await types(id)).toEqual(['change.requested', 'change.approved', 'change.started', 'change.executed']);
    expect(a.slack.messagesIn('DU0ALICE').some((m) => m.text.includes(`Change #${id}`) && m.text.includes('done: changed orders'))).toBe(true);
  });

  it('starts pre-approved changes through the same job', async () => {
    const gate = a.app.services.changes;
    const out = await gate.request('test.standard', {}, { userId: 'U0ALICE' }, { title: 'Rotate a log file' });
    expect(out.status).toBe('started');
    const id = (out as { requestId: number }).requestId;
    await a.settle();
    expect(await row(id)).toMatchObject({ status: 'executed', result_ok: true, result_summary: 'done as standard' });
    expect(runs.filter((r) => r.requestId === id)).toEqual([{ replica: 'A', requestId: id }]);
    expect(await job(id)).toMatchObject({ status: 'done', attempts: 1, payload: { requestId: id, approvers: [] } });
  });

  it('closes a run whose replica died mid-execution as interrupted on another replica, without re-running it', async () => {
    const gate = a.app.services.changes;
    const id = await requestAs(gate, 'test.hang', 'billing');
    expect((await gate.approve(id, 'U0BOB')).status).toBe('approved');
    // Replica A is now inside the executor (holding the job's claim).
    await vi.waitFor(() => expect(runs.filter((r) => r.requestId === id)).toHaveLength(1), { timeout: 30_000, interval: 50 });
    expect((await row(id)).status).toBe('executing');

    // A dies: its claim is no longer renewed and lapses. B starts on the same database.
    b = await startTestApp({ clock, config, shared: { db: a.db, slack: a.slack } });
    registerActions(b, 'B');
    await vi.waitFor(async () => {
      await a.db.pool.query(`UPDATE jobs SET locked_until = $2 WHERE dedupe_key = $1`, [`change-exec:${id}`, new Date(clock.now().getTime() - 1000)]);
      await b!.app.ctx.jobs.tick();
      expect((await row(id)).status).toBe('failed');
    }, { timeout: 30_000, interval: 50 });
    await b.settle();

    expect(await row(id)).toMatchObject({ status: 'failed', result_ok: false, result_summary: INTERRUPTED_SUMMARY });
    expect(await job(id)).toMatchObject({ status: 'done', attempts: 2 });
    expect(runs.filter((r) => r.requestId === id)).toEqual([{ replica: 'A', requestId: id }]);
    expect(a.slack.messagesIn('DU0ALICE').some((m) => m.text.includes(`Change #${id}`) && m.text.includes('failed: interrupted'))).toBe(true);
    const failed = (await eventsBy(a.db.pool, { subject: `change:${id}` })).filter((e) => e.type === 'change.failed');
    expect(failed[0]?.payload).toMatchObject({ ok: false, summary: INTERRUPTED_SUMMARY, interrupted: true, approvers: ['U0BOB'] });

    // A's executor finally returns (it was only cut off): the recorded outcome stands, nothing is told twice.
    const dmsBefore = a.slack.messagesIn('DU0ALICE').length;
    release();
    await a.settle();
    expect((await row(id)).status).toBe('failed');
    expect(a.slack.messagesIn('DU0ALICE')).toHaveLength(dmsBefore);
    const ev = await types(id);
    expect(ev.filter((x) => x === 'change.started')).toHaveLength(1);
    expect(ev.filter((x) => x === 'change.failed')).toHaveLength(1);
    expect(ev.filter((x) => x === 'change.executed')).toHaveLength(0);
  });

  it('starts a restartable pre-approved run again on another replica when its replica died, exactly once', async () => {
    // Whatever fails here, A's executor is let go so the next test does not wait on it.
    onTestFinished(() => releaseRestartable());
    const gate = a.app.services.changes;
    const out = await gate.request('test.restartable', { target: 'orders' }, { userId: 'U0ALICE', channelId: 'C0GENERAL' });
    expect(out).toMatchObject({ status: 'started', reason: 'pre-approved' });
    const id = (out as { requestId: number }).requestId;
    // The run was durable before the gate answered: its job row exists, claimed by A.
    await vi.waitFor(() => expect(runs.filter((r) => r.requestId === id)).toHaveLength(1), { timeout: 30_000, interval: 50 });
    expect(await job(id)).toMatchObject({ status: 'running', attempts: 1 });

    b ??= await startTestApp({ clock, config, shared: { db: a.db, slack: a.slack } });
    registerActions(b, 'B');
    // A's claim lapses; B ticks twice (as two pollers would): one restart, not two.
    await a.db.pool.query(`UPDATE jobs SET locked_until = $2 WHERE dedupe_key = $1`, [`change-exec:${id}`, new Date(clock.now().getTime() - 1000)]);
    await Promise.all([b.app.ctx.jobs.tick(), b.app.ctx.jobs.tick()]);
    await b.settle();

    expect(runs.filter((r) => r.requestId === id)).toEqual([
      { replica: 'A', requestId: id, restarted: undefined },
      { replica: 'B', requestId: id, restarted: true },
    ]);
    expect(await row(id)).toMatchObject({ status: 'executed', result_ok: true, result_summary: 'backed up on B' });
    expect(await job(id)).toMatchObject({ status: 'done', attempts: 2 });
    expect((await types(id)).filter((x) => x === 'change.executed')).toHaveLength(1);
    // A's executor returns late (it was only cut off): B's recorded outcome stands.
    releaseRestartable();
    await a.settle();
    expect(await row(id)).toMatchObject({ status: 'executed', result_summary: 'backed up on B' });
    expect((await types(id)).filter((x) => x === 'change.executed')).toHaveLength(1);
  });

  it('closes a run left executing with no job behind it (started before runs were jobs) when replicas resume', async () => {
    const gate = a.app.services.changes;
    const id = await requestAs(gate, 'test.quick', 'legacy');
    await a.db.pool.query(`UPDATE change_requests SET status = 'executing', executed_at = now() WHERE id = $1`, [id]);
    await Promise.all([gate.resumeApproved(), gate.resumeApproved()]);
    await a.settle();
    expect(await row(id)).toMatchObject({ status: 'failed', result_summary: INTERRUPTED_SUMMARY });
    expect(runs.filter((r) => r.requestId === id)).toHaveLength(0);
    expect((await types(id)).filter((x) => x === 'change.failed')).toHaveLength(1);
  });
});
