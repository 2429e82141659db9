import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { eventsBy } from '../../src/events/log.js';
import type { ChangeService } from '../../src/approvals/service.js';
import { buttonValueOf, type FakeMessage } from '../support/fake-slack.js';
import { refreshStoredStateGauges, approvalsPending } from '../../src/ops/metrics.js';

/**
 * Change management end to end: requests posted to #approvals and DMed to approvers, clicks
 * through the real Slack edge, the four-eyes rules enforced by the server, one execution.
 */
let t: TestApp;
let gate: ChangeService;
const clock = new FakeClock(new Date());
/** Every execution of a test action, in order: the proof that something ran exactly once. */
const executions: { kind: string; params: Record<string, unknown>; approvers: string[] }[] = [];

beforeAll(async () => {
  t = await startTestApp({
    clock,
    config: {
      approvals: {
        // Alice is an approver too, so refusing her own request proves the requester rule, not the list.
        approvers: ['U0ALICE', 'U0BOB', 'U0CAROL'],
        actions: {
          'test.restore': { approvalsRequired: 2, approvers: ['U0ALICE', 'U0BOB'], approverGroups: ['S0DBA'], breakGlass: true },
          'test.standard': { preApproved: true },
        },
      },
    },
  });
  t.slack.userGroups.set('S0DBA', ['U0CAROL', 'U0DAVE']);
  gate = t.app.services.changes;
  for (const kind of ['test.restore', 'test.once', 'test.standard']) {
    gate.register<{ target: string }>({
      kind,
      describe: (p) => `Restore into ${p.target}`,
      execute: async (params, exec) => {
        executions.push({ kind, params, approvers: exec.approvers });
        return { ok: true, summary: `restored into ${params.target}` };
      },
    });
  }
}, 120_000);
afterAll(() => t.stop());
beforeEach(() => {
  executions.length = 0;
});

const row = async (id: number) => (await t.db.pool.query('SELECT * FROM change_requests WHERE id = $1', [id])).rows[0];
const types = async (id: number) => (await eventsBy(t.db.pool, { subject: `change:${id}` })).map((e) => e.type);

/** The approval message for a request in #approvals, as Slack currently shows it. */
function approvalMessage(id: number): FakeMessage {
  const m = t.slack.messagesIn('approvals').find((x) => x.text.includes(`#${id}:`));
  if (!m) throw new Error(`no approval message for #${id}`);
  return m;
}
const approveValue = (id: number) => buttonValueOf(approvalMessage(id), 'change_approve')!;

async function click(actionId: string, value: string, user: string, actionTs?: string): Promise<string> {
  const { responseId } = await t.click(actionId, value, { user, channel: t.slack.channel('approvals')!.id, actionTs });
  await t.settle();
  return t.slack.replies(responseId).join('\n');
}

async function requestRestore(target: string, kind = 'test.restore'): Promise<number> {
  const out = await gate.request(kind, { target }, { userId: 'U0ALICE', channelId: 'C0GENERAL' });
  expect(out.status).toBe('pending');
  await t.settle();
  return (out as { requestId: number }).requestId;
}

describe('/change request', () => {
  it('posts the request in #approvals with buttons, DMs the approvers, and runs once approved', async () => {
    const { responseId } = await t.slash('/change request Rotate TLS certificate --category normal --risk medium');
    await t.settle();
    const req = (await t.db.pool.query(`SELECT * FROM change_requests WHERE title = 'Rotate TLS certificate'`)).rows[0];
    expect(req).toMatchObject({ kind: 'change.normal', category: 'normal', risk: 'medium', status: 'pending', approvals_required: 1 });
    expect(t.slack.replies(responseId)[0]).toMatch(new RegExp(`Change #${req.id} is waiting for 1 approval in #approvals`));
    const msg = approvalMessage(req.id);
    expect(buttonValueOf(msg, 'change_approve')).toBe(`${req.id}:${req.params_hash}`);
    expect(buttonValueOf(msg, 'change_reject')).toBe(String(req.id));
    // Approvers get the same message by DM, except the requester.
    const dmTargets = t.slack.callsTo('conversations.open').map((c) => c.users);
    expect(dmTargets).toEqual(expect.arrayContaining(['U0BOB', 'U0CAROL']));
    expect(dmTargets).not.toContain('U0ALICE');
    expect(t.slack.messagesIn('DU0BOB').some((m) => m.text.includes(`#${req.id}:`))).toBe(true);

    const answer = await click('change_approve', approveValue(req.id), 'U0BOB');
    expect(answer).toMatch(/approved and is running/);
    expect(await row(req.id)).toMatchObject({ status: 'executed', result_ok: true, started_because: 'approved' });
    const updated = approvalMessage(req.id);
    expect(updated.text).toMatch(/Done/);
    expect(JSON.stringify(updated.blocks)).toContain('Approved by <@U0BOB>');
    expect(buttonValueOf(updated, 'change_approve')).toBeUndefined();
    // The DM copy is updated in place too.
    expect(t.slack.messagesIn('DU0BOB').find((m) => m.text.includes(`#${req.id}:`))!.text).toMatch(/Done/);
    expect(await types(req.id)).toEqual(['change.requested', 'change.approved', 'change.started', 'change.executed']);
    // An executed request can't be approved again, even with the button from before.
    expect(await click('change_approve', `${req.id}:${req.params_hash}`, 'U0CAROL')).toMatch(/has already been executed \(succeeded\)/);
    expect((await types(req.id)).filter((x) => x === 'change.approved')).toHaveLength(1);
  });

  it('a /change request re-run after its replica died makes no second request, and posts the one it made if that never went out', async () => {
    const { triggerId } = await t.slash('/change request Resize the WAL disk --category normal --risk low', { triggerId: 'trig-change-rerun' });
    await t.settle();
    const rows = async () => (await t.db.pool.query(`SELECT * FROM change_requests WHERE title = 'Resize the WAL disk'`)).rows;
    const [req] = await rows();
    const posted = () => t.slack.messagesIn('approvals').filter((m) => m.text.includes(`#${req.id}:`));
    expect(posted()).toHaveLength(1);
    const rerun = async () => {
      await t.db.pool.query(`UPDATE jobs SET status = 'pending', run_at = $2, locked_by = NULL WHERE dedupe_key = $1`, [`cmd:${triggerId}`, new Date(clock.now().getTime() - 1000)]);
      await t.app.ctx.jobs.tick();
      await t.settle();
    };
    // Died after everything, before its job was marked done.
    await rerun();
    expect(await rows()).toHaveLength(1);
    expect(posted()).toHaveLength(1);
    // Died after the request was recorded, before the approvers saw it.
    t.slack.messages.splice(0, t.slack.messages.length, ...t.slack.messages.filter((m) => !m.text.includes(`#${req.id}:`)));
    await t.db.pool.query(`UPDATE change_requests SET message_channel = NULL, message_ts = NULL, direct_messages = '[]' WHERE id = $1`, [req.id]);
    await rerun();
    expect(await rows()).toHaveLength(1);
    expect(posted()).toHaveLength(1);
    expect(await types(req.id)).toEqual(['change.requested']);
  });

  it('refuses bad categories and risks without recording anything', async () => {
    const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM change_requests')).rows[0].n;
    const a = await t.slash('/change request Something --category urgent');
    const b = await t.slash('/change request Something --risk extreme');
    const c = await t.slash('/change request --risk low');
    await t.settle();
    expect(t.slack.replies(a.responseId)[0]).toMatch(/`--category urgent` isn't one I know/);
    expect(t.slack.replies(b.responseId)[0]).toMatch(/`--risk extreme` isn't one I know/);
    expect(t.slack.replies(c.responseId)[0]).toMatch(/Give the change a title/);
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM change_requests')).rows[0].n).toBe(before);
  });
});

describe('four-eyes rules', () => {
  it('refuses self-approval even when the requester is a listed approver', async () => {
    const id = await requestRestore('self_db');
    const answer = await click('change_approve', approveValue(id), 'U0ALICE');
    expect(answer).toMatch(/You asked for change #\d+, so you can't approve it/);
    expect((await t.db.pool.query('SELECT * FROM change_approvals WHERE request_id = $1', [id])).rows).toHaveLength(0);
    expect((await row(id)).status).toBe('pending');
  });

  it('refuses someone who is neither listed nor in an approver group', async () => {
    const id = await requestRestore('stranger_db');
    const answer = await click('change_approve', approveValue(id), 'U0MALLORY');
    expect(answer).toMatch(/not an approver for `test.restore`/);
    expect((await t.db.pool.query('SELECT * FROM change_approvals WHERE request_id = $1', [id])).rows).toHaveLength(0);
  });

  it('needs two distinct approvers and counts each person once, group members included', async () => {
    const id = await requestRestore('two_db');
    expect(await click('change_approve', approveValue(id), 'U0BOB')).toMatch(/1 more approval needed/);
    // Bob again (a second click, a new action_ts): still one approval.
    expect(await click('change_approve', approveValue(id), 'U0BOB')).toMatch(/already approved change #\d+; each person counts once. 1 more/);
    expect((await row(id)).status).toBe('pending');
    expect(JSON.stringify(approvalMessage(id).blocks)).toMatch(/Waiting for 1 more approval\*.*\(1 of 2\)/);
    expect(executions).toHaveLength(0);
    // Dave is only an approver through the S0DBA user group.
    expect(await click('change_approve', approveValue(id), 'U0DAVE')).toMatch(/approved and is running/);
    expect(executions).toEqual([{ kind: 'test.restore', params: { target: 'two_db' }, approvers: ['U0BOB', 'U0DAVE'] }]);
    expect((await row(id)).status).toBe('executed');
    const approved = (await eventsBy(t.db.pool, { subject: `change:${id}`, types: ['change.approved'] })).map((e) => e.actor);
    expect(approved).toEqual(['U0BOB', 'U0DAVE']);
  });

  it('expires an unapproved request with the fake clock and refuses approvals after that', async () => {
    const id = await requestRestore('late_db');
    await click('change_approve', approveValue(id), 'U0BOB');
    const value = approveValue(id);
    clock.advance(29 * MINUTE);
    await t.settle();
    expect((await row(id)).status).toBe('pending');
    clock.advance(2 * MINUTE);
    await t.settle(); // the expiry job is due now
    expect((await row(id)).status).toBe('expired');
    expect(approvalMessage(id).text).toMatch(/Expired/);
    expect(await click('change_approve', value, 'U0CAROL')).toMatch(/expired unapproved/);
    expect(executions).toHaveLength(0);
    expect(await types(id)).toEqual(['change.requested', 'change.approved', 'change.expired']);
    // The requester is told once, however many refreshes follow.
    expect(t.slack.messagesIn('DU0ALICE').filter((m) => m.text.includes(`Change #${id} expired`))).toHaveLength(1);
  });

  it('refuses an approval clicked after expiry even before the expiry job has run', async () => {
    const id = await requestRestore('late2_db', 'test.once');
    const value = approveValue(id);
    clock.advance(31 * MINUTE);
    expect(await click('change_approve', value, 'U0BOB')).toMatch(/expired unapproved/);
    expect((await row(id)).status).toBe('expired');
    expect(executions).toHaveLength(0);
  });

  it('voids approvals when the parameters change: earlier approvals stop counting and old buttons are refused', async () => {
    const id = await requestRestore('orders');
    const oldValue = approveValue(id);
    await click('change_approve', oldValue, 'U0BOB');
    const amended = await gate.amend(id, { target: 'orders_copy' }, 'U0ALICE');
    expect(amended.status).toBe('recorded');
    await t.settle();
    expect(JSON.stringify(approvalMessage(id).blocks)).toContain('Earlier approval by <@U0BOB> no longer counts');
    // Carol clicks the button she saw before the change: refused, not counted.
    expect(await click('change_approve', oldValue, 'U0CAROL')).toMatch(/parameters changed since that message was shown/);
    // With the new parameters, Carol's approval counts as the first of two.
    expect(await click('change_approve', approveValue(id), 'U0CAROL')).toMatch(/1 more approval needed/);
    expect(await click('change_approve', approveValue(id), 'U0BOB')).toMatch(/approved and is running/);
    expect(executions).toHaveLength(1);
    expect(executions[0]!.params).toEqual({ target: 'orders_copy' });
    expect([...executions[0]!.approvers].sort()).toEqual(['U0BOB', 'U0CAROL']);
  });

  it('voids the request when its stored parameters are changed behind Firebreak\'s back, and runs nothing', async () => {
    const id = await requestRestore('payments');
    await click('change_approve', approveValue(id), 'U0BOB');
    await t.db.pool.query(`UPDATE change_requests SET params = '{"target":"production"}' WHERE id = $1`, [id]);
    expect(await click('change_approve', approveValue(id), 'U0CAROL')).toMatch(/void: its parameters no longer match/);
    expect((await row(id)).status).toBe('void');
    expect(executions).toHaveLength(0);
    expect((await types(id)).at(-1)).toBe('change.voided');
    expect(approvalMessage(id).text).toMatch(/Void/);
  });

  it('runs once for a double click, a replayed payload and two approvers clicking at the same moment', async () => {
    const id = await requestRestore('once_db', 'test.once');
    const value = approveValue(id);
    const channel = t.slack.channel('approvals')!.id;
    await Promise.all([
      t.click('change_approve', value, { user: 'U0BOB', channel, actionTs: '1772445600.000001' }),
      t.click('change_approve', value, { user: 'U0BOB', channel, actionTs: '1772445600.000001' }), // Slack retry: same payload
      t.click('change_approve', value, { user: 'U0BOB', channel, actionTs: '1772445600.000002' }), // double click
      t.click('change_approve', value, { user: 'U0CAROL', channel, actionTs: '1772445600.000003' }),
    ]);
    await t.settle();
    expect(executions).toHaveLength(1);
    expect((await row(id)).status).toBe('executed');
    const ev = await types(id);
    expect(ev.filter((x) => x === 'change.started')).toHaveLength(1);
    expect(ev.filter((x) => x === 'change.executed')).toHaveLength(1);
    // The replayed payload was dropped before it reached the rules; the rest were answered.
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM change_approvals WHERE request_id = $1`, [id])).rows[0].n).toBe(1);
  });
});

describe('restarts', () => {
  it('runs an approved request whose run was never claimed exactly once when replicas resume', async () => {
    const id = await requestRestore('crash_db', 'test.once');
    // The last approval committed, then the process died before claiming the run.
    const hash = (await row(id)).params_hash as string;
    await t.db.pool.query(`INSERT INTO change_approvals (request_id, approver, params_hash, at) VALUES ($1, 'U0BOB', $2, now())`, [id, hash]);
    await t.db.pool.query(`UPDATE change_requests SET status = 'approved' WHERE id = $1`, [id]);
    await Promise.all([gate.resumeApproved(), gate.resumeApproved()]);
    await t.settle();
    expect(executions).toEqual([{ kind: 'test.once', params: { target: 'crash_db' }, approvers: ['U0BOB'] }]);
    expect((await row(id)).status).toBe('executed');
  });
});

describe('rejection', () => {
  it('opens a reason modal, records the rejection and refuses later approvals', async () => {
    const id = await requestRestore('reject_db', 'test.once');
    const { responseId } = await t.click('change_reject', String(id), { user: 'U0BOB', channel: t.slack.channel('approvals')!.id });
    await t.settle();
    expect(t.slack.replies(responseId)).toEqual([]);
    const modal = t.slack.views.at(-1)!.view;
    expect(modal.callback_id).toBe('change_reject_reason');
    expect(modal.private_metadata).toBe(String(id));
    const empty = (await (await t.submitView('change_reject_reason', { reason: ' ' }, { user: 'U0BOB', privateMetadata: String(id) })).json()) as { errors: Record<string, string> };
    expect(empty.errors.reason).toMatch(/Say why/);
    const res = await t.submitView('change_reject_reason', { reason: 'Wrong target, use the replica' }, { user: 'U0BOB', privateMetadata: String(id) });
    expect(res.status).toBe(200);
    await t.settle();
    expect(await row(id)).toMatchObject({ status: 'rejected', rejected_by: 'U0BOB', reject_reason: 'Wrong target, use the replica' });
    expect(JSON.stringify(approvalMessage(id).blocks)).toContain('Rejected* by <@U0BOB>');
    expect(await click('change_approve', approveValue(id) ?? `${id}:x`, 'U0CAROL')).toMatch(/was rejected by <@U0BOB>/);
    expect(executions).toHaveLength(0);
    const told = t.slack.messagesIn('DU0ALICE').filter((m) => m.text.includes(`Change #${id} was rejected`));
    expect(told.map((m) => m.text)).toEqual([`:no_entry: Nothing was run. Change #${id} was rejected by <@U0BOB>. Reason: Wrong target, use the replica`]);
    const rejected = (await eventsBy(t.db.pool, { subject: `change:${id}`, types: ['change.rejected'] }))[0]!;
    expect(rejected.payload).toMatchObject({ reason: 'Wrong target, use the replica', withdrawn: false });
  });
});

describe('break-glass and pre-approved changes', () => {
  it('records an emergency change at once with its reason and flags it for review by someone else', async () => {
    const { responseId } = await t.slash('/change request Failover to replica --category emergency --reason "primary is down, customers affected"');
    await t.settle();
    expect(t.slack.replies(responseId)[0]).toMatch(/recorded as an emergency change; it is flagged for review/);
    const req = (await t.db.pool.query(`SELECT * FROM change_requests WHERE title = 'Failover to replica'`)).rows[0];
    expect(req).toMatchObject({ status: 'executed', started_because: 'break-glass', needs_review: true, break_glass_reason: 'primary is down, customers affected' });
    const ev = (await eventsBy(t.db.pool, { subject: `change:${req.id}`, types: ['change.break_glass'] }))[0]!;
    expect(ev.actor).toBe('U0ALICE');
    expect(ev.payload).toMatchObject({ reason: 'primary is down, customers affected', needsReview: true });
    const msg = approvalMessage(req.id);
    expect(JSON.stringify(msg.blocks)).toContain('Needs review after the fact');
    // Approvers hear about it by DM, since one of them has to review it.
    expect(t.slack.messagesIn('DU0CAROL').some((m) => m.text.includes(`#${req.id}:`))).toBe(true);
    expect(buttonValueOf(msg, 'change_review')).toBe(String(req.id));
    expect(await click('change_review', String(req.id), 'U0ALICE')).toMatch(/someone else has to review it/);
    expect(await click('change_review', String(req.id), 'U0BOB')).toMatch(/marked reviewed/);
    expect(await row(req.id)).toMatchObject({ reviewed_by: 'U0BOB' });
    expect(JSON.stringify(approvalMessage(req.id).blocks)).toContain('Reviewed by <@U0BOB>');
  });

  it('an emergency change without a reason is refused', async () => {
    const { responseId } = await t.slash('/change request Quick fix --category emergency');
    await t.settle();
    expect(t.slack.replies(responseId)[0]).toMatch(/needs a reason/);
  });

  it('lets the requester break glass on a pending request where policy allows, with a reason, and no one else', async () => {
    const id = await requestRestore('glass_db');
    expect(buttonValueOf(approvalMessage(id), 'change_break_glass')).toBe(String(id));
    expect(await click('change_break_glass', String(id), 'U0BOB')).toMatch(/Only <@U0ALICE>/);
    await click('change_break_glass', String(id), 'U0ALICE');
    expect(t.slack.views.at(-1)!.view.callback_id).toBe('change_break_glass_reason');
    const refused = (await (await t.submitView('change_break_glass_reason', { reason: 'sneaky' }, { user: 'U0BOB', privateMetadata: String(id) })).json()) as { errors: Record<string, string> };
    expect(refused.errors.reason).toMatch(/Only <@U0ALICE>/);
    await t.submitView('change_break_glass_reason', { reason: 'orders table is corrupt, restore now' }, { user: 'U0ALICE', privateMetadata: String(id) });
    await t.settle();
    expect(executions).toHaveLength(1);
    expect(await row(id)).toMatchObject({ status: 'executed', started_because: 'break-glass', needs_review: true, category: 'emergency' });
    expect(await types(id)).toEqual(['change.requested', 'change.break_glass', 'change.executed']);
  });

  it('refuses break-glass where the policy does not allow it', async () => {
    const out = await gate.request('test.once', { target: 'x' }, { userId: 'U0ALICE' }, { breakGlassReason: 'hurry' });
    expect(out).toEqual({ status: 'refused', message: expect.stringMatching(/Break-glass is not allowed for `test.once`/) });
    expect(executions).toHaveLength(0);
  });

  it('runs a pre-approved standard change at once and still records it', async () => {
    const out = await gate.request('test.standard', { target: 'nightly' }, { userId: 'U0ALICE' });
    expect(out).toMatchObject({ status: 'started', reason: 'pre-approved' });
    await t.settle();
    const id = (out as { requestId: number }).requestId;
    expect(executions).toEqual([{ kind: 'test.standard', params: { target: 'nightly' }, approvers: [] }]);
    expect(await types(id)).toEqual(['change.started', 'change.executed']);
    expect(approvalMessage(id).text).toMatch(/Done/);
  });

  it('gates /backup now and /dr dry-run with one approver until a team marks them pre-approved', () => {
    expect(gate.policy('backup.now')).toMatchObject({ approvalsRequired: 1, preApproved: false });
    expect(gate.policy('dr.dry-run')).toMatchObject({ approvalsRequired: 1, preApproved: false });
    expect(gate.policy('dr.execute')).toMatchObject({ approvalsRequired: 2, expiryMinutes: 30 });
  });
});

describe('metrics', () => {
  it('reports pending requests, not expired ones', async () => {
    clock.advance(24 * 60 * MINUTE);
    await t.settle();
    await requestRestore('gauge_db', 'test.once');
    await refreshStoredStateGauges(t.db.pool);
    expect((await approvalsPending.get()).values[0]?.value).toBe(1);
  });
});
