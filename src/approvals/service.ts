import type pg from 'pg';
import type { AppContext } from '../context.js';
import { withTransaction } from '../db/pool.js';
import { appendEvent } from '../events/log.js';
import type { ChangeRequestView } from '../templates/approvals.js';
import { ChangeMessages, statusRefusal, type Eligibility } from './messages.js';
import { needsApproval, policyFor, type ActionPolicy, type ApprovalsConfig } from './config.js';
import type { ActionResult, ChangeGate, ChangeRequester, GatedAction, GateOutcome, GateRequestOptions, StopDecision, StopRequest } from './gate.js';
import {
  countingApprovals, paramsHash, type Approval, type ChangeCategory, type ChangeRequest, type ChangeRisk,
} from './model.js';
import * as store from './store.js';
import type { Job } from '../jobs/queue.js';

export const EXPIRY_QUEUE = 'approvals.expire';
/**
 * Runs a change that has started: the job row, written in the transaction that started it,
 * lets another replica close a run whose replica died instead of leaving it `executing`.
 */
export const EXECUTE_QUEUE = 'approvals.execute';
/**
 * How long an execution's claim lasts. The queue renews it every third of this while the
 * replica lives, so a backup of any length is never taken over (only a replica that missed
 * two renewals in a row loses it); a dead replica's run is closed within this, not minutes later.
 */
export const EXECUTE_CLAIM_SECONDS = 30;
/** Attempts after the first only record the interruption (cheap), so keep trying through a long database outage. */
export const EXECUTE_MAX_ATTEMPTS = 12;
export const executeRetryDelayMs = (failed: number): number => Math.min(300_000, 15_000 * 2 ** Math.max(0, failed - 1));
export const INTERRUPTED_SUMMARY =
  'interrupted: the replica running it stopped before recording the outcome; nothing was re-run — check the result (for a backup, /backup list) and request it again if needed';

interface ExecuteJob {
  requestId: number;
  approvers: string[];
  /** Set for runs found `executing` with no job behind them (started before runs were jobs). */
  interrupted?: boolean;
}
/** Runs approved requests whose execution was never claimed; queued at start so every executor is registered first. */
export const RESUME_QUEUE = 'approvals.resume';

/**
 * Whether the gate starts a kind at once (pre-approved, or no approvals required). The CLI,
 * which cannot collect approvals, asks this and refuses otherwise; chat commands ask the gate.
 */
export function startsAtOnce(config: ApprovalsConfig, kind: string): boolean {
  return !needsApproval(policyFor(config, kind));
}

/** Who may approve a kind: a resolved set of user ids, or anyone but the requester. */
export type DecisionOutcome =
  | { status: 'recorded'; request: ChangeRequest; remaining: number }
  | { status: 'approved'; request: ChangeRequest }
  | { status: 'rejected'; request: ChangeRequest }
  | { status: 'reviewed'; request: ChangeRequest }
  | { status: 'broke-glass'; request: ChangeRequest }
  | { status: 'refused'; message: string };

const subject = (id: number) => `change:${id}`;
const short = (hash: string) => hash.slice(0, 12);

/**
 * Change management: the four-eyes rules, enforced here on every decision whatever the
 * surface. Each decision is one transaction holding the request's row lock and appending its
 * audit event; execution is claimed by a conditional UPDATE so it happens once.
 */
export class ChangeService implements ChangeGate {
  private actions = new Map<string, GatedAction>();
  private messages: ChangeMessages;

  constructor(
    private ctx: AppContext,
    /** An incident's commander may stop risky work whoever asked for it. */
    private incidents: { commandsOpenIncident(userId: string): Promise<boolean> },
  ) {
    this.messages = new ChangeMessages(ctx, (id) => this.view(id));
  }

  register<P extends Record<string, unknown>>(action: GatedAction<P>): void {
    this.actions.set(action.kind, action as unknown as GatedAction);
  }

  policy(kind: string): ActionPolicy {
    return policyFor(this.ctx.config.approvals, kind);
  }

  private now(): Date {
    return this.ctx.clock.now();
  }

  async eligibleApprovers(policy: ActionPolicy): Promise<Eligibility> {
    if (policy.approvers.length === 0 && policy.approverGroups.length === 0) return { anyone: true };
    const users = new Set(policy.approvers);
    const unresolvedGroups: string[] = [];
    for (const g of policy.approverGroups) {
      try {
        for (const u of await this.ctx.chat.userGroupMembers(g)) users.add(u);
      } catch (err) {
        this.ctx.log.warn({ err, group: g }, 'could not resolve approver group');
        unresolvedGroups.push(g);
      }
    }
    return { anyone: false, users, unresolvedGroups };
  }

  private async mayDecide(kind: string, userId: string): Promise<string | undefined> {
    const eligible = await this.eligibleApprovers(this.policy(kind));
    if (eligible.anyone || eligible.users.has(userId)) return undefined;
    const p = this.policy(kind);
    const who = [...p.approvers.map((u) => `<@${u}>`), ...p.approverGroups.map((g) => `<!subteam^${g}>`)].join(', ');
    if (eligible.unresolvedGroups.length > 0) return `I couldn't check the approver groups for \`${kind}\` just now; try again in a minute. Approvers: ${who}.`;
    return `You're not an approver for \`${kind}\`. Approvers: ${who}.`;
  }

  async authorizeStop(stop: StopRequest, actor: string): Promise<StopDecision> {
    if (actor === stop.requester) return { allowed: true, because: 'requester' };
    const eligible = await this.eligibleApprovers(this.policy(stop.kind));
    if (eligible.anyone || eligible.users.has(actor)) return { allowed: true, because: 'approver' };
    if (await this.incidents.commandsOpenIncident(actor)) return { allowed: true, because: 'incident-commander' };
    await appendEvent(this.ctx.pool, {
      type: 'change.stop_refused', actor, at: this.now(), subject: stop.subject,
      payload: { kind: stop.kind, what: stop.what, requester: stop.requester },
    });
    const p = this.policy(stop.kind);
    const who = [...p.approvers.map((u) => `<@${u}>`), ...p.approverGroups.map((g) => `<!subteam^${g}>`)].join(', ');
    return {
      allowed: false,
      message: `You can't ${stop.what}: only its requester <@${stop.requester}>, an approver of \`${stop.kind}\` (${who || 'none configured'}) or an incident commander can. This refusal is in the audit log.`,
    };
  }

  async request(kind: string, rawParams: Record<string, unknown>, requester: ChangeRequester, opts: GateRequestOptions = {}): Promise<GateOutcome> {
    const action = this.actions.get(kind);
    if (!action) return { status: 'refused', message: `Firebreak has no gated action called \`${kind}\`.` };
    // What jsonb will give back is what gets hashed and executed.
    const params = JSON.parse(JSON.stringify(rawParams)) as Record<string, unknown>;
    const policy = this.policy(kind);
    const title = (opts.title ?? action.describe(params)).slice(0, 300);
    const category: ChangeCategory = opts.category ?? (opts.breakGlassReason ? 'emergency' : 'normal');
    const risk: ChangeRisk | null = opts.risk ?? null;
    const now = this.now();
    if (opts.requestKey) {
      const earlier = await store.requestByKey(this.ctx.pool, opts.requestKey);
      if (earlier) return this.resumeRequest(earlier);
    }
    const base = {
      kind, title, category, risk, params, paramsHash: paramsHash(params), requester: requester.userId,
      requesterChannel: requester.channelId ?? null, createdAt: now,
      expiresAt: new Date(now.getTime() + policy.expiryMinutes * 60_000), requestKey: opts.requestKey ?? null,
    };

    if (opts.breakGlassReason !== undefined) {
      const reason = opts.breakGlassReason.trim();
      if (!policy.breakGlass) return { status: 'refused', message: `Break-glass is not allowed for \`${kind}\`: ask for approval instead.` };
      if (!reason) return { status: 'refused', message: 'Break-glass needs a reason: say why this cannot wait for approval.' };
      const req = await this.startAtOnce({ ...base, startedBecause: 'break-glass', breakGlassReason: reason, needsReview: true });
      return { status: 'started', requestId: req.id, reason: 'break-glass' };
    }
    if (!needsApproval(policy)) {
      const because = policy.preApproved ? 'pre-approved' : 'no-approval-required';
      const req = await this.startAtOnce({ ...base, startedBecause: because, breakGlassReason: null, needsReview: false });
      return { status: 'started', requestId: req.id, reason: because };
    }

    const eligible = await this.eligibleApprovers(policy);
    if (!eligible.anyone && eligible.unresolvedGroups.length === 0) {
      const others = [...eligible.users].filter((u) => u !== requester.userId);
      if (others.length < policy.approvalsRequired) {
        return {
          status: 'refused',
          message: `\`${kind}\` needs ${policy.approvalsRequired} approvers other than you, but only ${others.length} are configured. Ask an admin to add approvers (approvals.actions.${kind}.approvers).`,
        };
      }
    }

    const req = await withTransaction(this.ctx.pool, async (c) => {
      const r = await store.insertRequest(c, {
        ...base, status: 'pending', approvalsRequired: policy.approvalsRequired, startedBecause: null, breakGlassReason: null, needsReview: false,
      });
      await appendEvent(c, {
        type: 'change.requested', actor: r.requester, at: now, subject: subject(r.id),
        payload: { kind, title, category, risk, params, paramsHash: r.paramsHash, approvalsRequired: r.approvalsRequired, expiresAt: r.expiresAt.toISOString() },
      });
      await this.ctx.jobs.enqueue(EXPIRY_QUEUE, { requestId: r.id }, { runAt: r.expiresAt, dedupeKey: `change-expire:${r.id}` }, c);
      return r;
    });
    await this.messages.announce(req, eligible);
    return { status: 'pending', requestId: req.id, approvalsNeeded: req.approvalsRequired };
  }

  /**
   * A re-run of the chat request that made `r`: what its first run may not have finished is
   * finished (the request message posted), and it answers as the first run did. A started
   * execution is a durable job already, run by whichever replica claims it.
   */
  private async resumeRequest(r: ChangeRequest): Promise<GateOutcome> {
    if (!r.message) await this.messages.announce(r, r.status === 'pending' || r.needsReview ? await this.eligibleApprovers(this.policy(r.kind)) : { anyone: true });
    if (r.status === 'pending') return { status: 'pending', requestId: r.id, approvalsNeeded: r.approvalsRequired };
    const because = r.startedBecause;
    if (because === 'break-glass' || because === 'pre-approved' || because === 'no-approval-required') return { status: 'started', requestId: r.id, reason: because };
    return { status: 'refused', message: `Change #${r.id} was asked for by this request already; it is ${r.status}.` };
  }

  private async startAtOnce(
    fields: Omit<store.NewChangeRequest, 'status' | 'approvalsRequired'>,
  ): Promise<ChangeRequest> {
    const req = await withTransaction(this.ctx.pool, async (c) => {
      const r = await store.insertRequest(c, { ...fields, status: 'executing', approvalsRequired: 0 });
      const type = r.startedBecause === 'break-glass' ? 'change.break_glass' : 'change.started';
      await appendEvent(c, {
        type, actor: r.requester, at: r.createdAt, subject: subject(r.id),
        payload: {
          kind: r.kind, title: r.title, category: r.category, risk: r.risk, params: r.params, paramsHash: r.paramsHash,
          because: r.startedBecause, ...(r.breakGlassReason ? { reason: r.breakGlassReason, needsReview: true } : {}),
        },
      });
      return { request: r, jobId: await this.enqueueExecution(c, r.id, []) };
    });
    // Break-glass goes to the approvers too: one of them reviews it after the fact.
    await this.messages.announce(req.request, req.request.needsReview ? await this.eligibleApprovers(this.policy(req.request.kind)) : { anyone: true });
    this.runExecution(req.request.id, req.jobId);
    return req.request;
  }

  /** Approve button: the four-eyes rules, then execution once the last needed approval lands. */
  async approve(id: number, approver: string, shownHash?: string): Promise<DecisionOutcome> {
    const existing = await store.getRequest(this.ctx.pool, id);
    if (!existing) return { status: 'refused', message: `There is no change request #${id}.` };
    // Resolve groups before taking the row lock: a Slack call must not hold it.
    const notAllowed = await this.mayDecide(existing.kind, approver);
    const now = this.now();
    const out = await withTransaction(this.ctx.pool, async (c): Promise<DecisionOutcome & { changed?: boolean }> => {
      const r = (await store.lockRequest(c, id))!;
      if (r.status === 'pending' && r.expiresAt.getTime() <= now.getTime()) {
        await this.expireLocked(c, r, now);
        return { status: 'refused', message: `Change #${id} expired unapproved at ${r.expiresAt.toISOString()}. Ask for it again if it is still needed.`, changed: true };
      }
      if (r.status !== 'pending') return { status: 'refused', message: statusRefusal(r) };
      if (approver === r.requester) return { status: 'refused', message: `You asked for change #${id}, so you can't approve it: someone else has to.` };
      if (notAllowed) return { status: 'refused', message: notAllowed };
      if (paramsHash(r.params) !== r.paramsHash) {
        await this.voidLocked(c, r, 'its parameters were changed outside Firebreak after it was requested', approver, now);
        return { status: 'refused', message: `Change #${id} is void: its parameters no longer match what was requested.`, changed: true };
      }
      if (shownHash !== undefined && shownHash !== r.paramsHash) {
        return { status: 'refused', message: `Change #${id}'s parameters changed since that message was shown (now ${short(r.paramsHash)}…). Look at the updated request before approving.` };
      }
      const added = await store.addApproval(c, id, approver, r.paramsHash, now);
      const counting = countingApprovals(r, await store.approvalsFor(c, id));
      const remaining = Math.max(0, r.approvalsRequired - counting.length);
      if (!added) {
        return { status: 'refused', message: `You already approved change #${id}; each person counts once. ${remaining} more approval${remaining === 1 ? '' : 's'} needed.` };
      }
      await appendEvent(c, {
        type: 'change.approved', actor: approver, at: now, subject: subject(id),
        payload: { kind: r.kind, paramsHash: r.paramsHash, approvals: counting.length, required: r.approvalsRequired },
      });
      if (remaining > 0) return { status: 'recorded', request: r, remaining };
      await store.markApproved(c, id, now);
      return { status: 'approved', request: { ...r, status: 'approved' } };
    });
    if (out.status === 'approved') await this.startExecution(id);
    if (out.status !== 'refused' || out.changed) this.messages.refresh(id);
    delete out.changed;
    return out;
  }

  /**
   * Break-glass on a pending request: the requester runs it now, without the approvals still
   * missing, where the kind's policy allows it. Recorded with the reason and flagged for review.
   */
  async breakGlass(id: number, actor: string, reason: string): Promise<DecisionOutcome> {
    const why = reason.trim();
    if (!why) return { status: 'refused', message: 'Break-glass needs a reason: say why this cannot wait for approval.' };
    const existing = await store.getRequest(this.ctx.pool, id);
    if (!existing) return { status: 'refused', message: `There is no change request #${id}.` };
    if (actor !== existing.requester) return { status: 'refused', message: `Only <@${existing.requester}>, who asked for change #${id}, can break glass on it.` };
    if (!this.policy(existing.kind).breakGlass) return { status: 'refused', message: `Break-glass is not allowed for \`${existing.kind}\`: it needs its approvals.` };
    const now = this.now();
    const out = await withTransaction(this.ctx.pool, async (c): Promise<{ refused: string; changed?: boolean } | { request: ChangeRequest; approvers: string[]; jobId: number | null }> => {
      const r = (await store.lockRequest(c, id))!;
      if (r.status === 'pending' && r.expiresAt.getTime() <= now.getTime()) {
        await this.expireLocked(c, r, now);
        return { refused: `Change #${id} expired unapproved at ${r.expiresAt.toISOString()}. Ask for it again if it is still needed.`, changed: true };
      }
      if (r.status !== 'pending') return { refused: statusRefusal(r) };
      if (paramsHash(r.params) !== r.paramsHash) {
        await this.voidLocked(c, r, 'its parameters were changed outside Firebreak after it was requested', actor, now);
        return { refused: `Change #${id} is void: its parameters no longer match what was requested.`, changed: true };
      }
      const started = (await store.markBreakGlass(c, id, why, now))!;
      const approvers = countingApprovals(r, await store.approvalsFor(c, id)).map((a) => a.approver);
      await this.ctx.jobs.cancel(`change-expire:${id}`, c);
      await appendEvent(c, {
        type: 'change.break_glass', actor, at: now, subject: subject(id),
        payload: {
          kind: r.kind, title: r.title, params: r.params, paramsHash: r.paramsHash, reason: why, needsReview: true,
          approvalsGiven: approvers, approvalsRequired: r.approvalsRequired,
        },
      });
      return { request: started, approvers, jobId: await this.enqueueExecution(c, id, approvers) };
    });
    if ('refused' in out) {
      if (out.changed) this.messages.refresh(id);
      return { status: 'refused', message: out.refused };
    }
    this.messages.refresh(id);
    this.runExecution(id, out.jobId);
    return { status: 'broke-glass', request: out.request };
  }

  /** Reject (approvers) or withdraw (the requester); a reason is required either way. */
  async reject(id: number, actor: string, reason: string): Promise<DecisionOutcome> {
    const why = reason.trim();
    if (!why) return { status: 'refused', message: 'Say why you are rejecting this change.' };
    const existing = await store.getRequest(this.ctx.pool, id);
    if (!existing) return { status: 'refused', message: `There is no change request #${id}.` };
    const notAllowed = actor === existing.requester ? undefined : await this.mayDecide(existing.kind, actor);
    const now = this.now();
    const out = await withTransaction(this.ctx.pool, async (c): Promise<DecisionOutcome> => {
      const r = (await store.lockRequest(c, id))!;
      if (r.status === 'pending' && r.expiresAt.getTime() <= now.getTime()) {
        await this.expireLocked(c, r, now);
        return { status: 'refused', message: `Change #${id} had already expired.` };
      }
      if (r.status !== 'pending') return { status: 'refused', message: statusRefusal(r) };
      if (notAllowed) return { status: 'refused', message: notAllowed };
      await store.markRejected(c, id, actor, why, now);
      await appendEvent(c, {
        type: 'change.rejected', actor, at: now, subject: subject(id),
        payload: { kind: r.kind, paramsHash: r.paramsHash, reason: why, withdrawn: actor === r.requester },
      });
      await this.ctx.jobs.cancel(`change-expire:${id}`, c);
      return { status: 'rejected', request: { ...r, status: 'rejected', rejectedBy: actor, rejectReason: why } };
    });
    this.messages.refresh(id);
    return out;
  }

  /**
   * Changes a pending request's parameters (the requester or the area that raised it).
   * Approvals given for the old parameters stop counting: people approve exact actions.
   */
  async amend(id: number, rawParams: Record<string, unknown>, actor: string): Promise<DecisionOutcome> {
    const params = JSON.parse(JSON.stringify(rawParams)) as Record<string, unknown>;
    const hash = paramsHash(params);
    const now = this.now();
    const out = await withTransaction(this.ctx.pool, async (c): Promise<DecisionOutcome> => {
      const r = await store.lockRequest(c, id);
      if (!r) return { status: 'refused', message: `There is no change request #${id}.` };
      if (r.status !== 'pending') return { status: 'refused', message: statusRefusal(r) };
      if (hash === r.paramsHash) return { status: 'recorded', request: r, remaining: r.approvalsRequired - countingApprovals(r, await store.approvalsFor(c, id)).length };
      const voided = countingApprovals(r, await store.approvalsFor(c, id)).map((a) => a.approver);
      await store.replaceParams(c, id, params, hash);
      await appendEvent(c, {
        type: 'change.amended', actor, at: now, subject: subject(id),
        payload: { kind: r.kind, fromHash: r.paramsHash, toHash: hash, params, voidedApprovals: voided },
      });
      return { status: 'recorded', request: { ...r, params, paramsHash: hash }, remaining: r.approvalsRequired };
    });
    if (out.status !== 'refused') this.messages.refresh(id);
    return out;
  }

  /** After-the-fact review of a break-glass run by someone other than the requester. */
  async review(id: number, reviewer: string, note?: string): Promise<DecisionOutcome> {
    const r = await store.getRequest(this.ctx.pool, id);
    if (!r) return { status: 'refused', message: `There is no change request #${id}.` };
    if (!r.needsReview) return { status: 'refused', message: `Change #${id} was not a break-glass run; there is nothing to review.` };
    if (r.reviewedAt) return { status: 'refused', message: `Change #${id} was already reviewed by <@${r.reviewedBy}>.` };
    if (reviewer === r.requester) return { status: 'refused', message: `You ran change #${id}, so someone else has to review it.` };
    const notAllowed = await this.mayDecide(r.kind, reviewer);
    if (notAllowed) return { status: 'refused', message: notAllowed };
    const now = this.now();
    const done = await withTransaction(this.ctx.pool, async (c) => {
      if (!(await store.markReviewed(c, id, reviewer, note?.trim() || null, now))) return false;
      await appendEvent(c, { type: 'change.reviewed', actor: reviewer, at: now, subject: subject(id), payload: { kind: r.kind, note: note?.trim() || null } });
      return true;
    });
    if (!done) return { status: 'refused', message: `Change #${id} was already reviewed.` };
    this.messages.refresh(id);
    return { status: 'reviewed', request: (await store.getRequest(this.ctx.pool, id))! };
  }

  /** Expires every pending request past its expiry: the expiry job and any sweep call this. */
  async expireDue(): Promise<number> {
    let n = 0;
    for (const id of await store.duePending(this.ctx.pool, this.now())) {
      const now = this.now();
      const expired = await withTransaction(this.ctx.pool, async (c) => {
        const r = await store.lockRequest(c, id);
        if (!r || r.status !== 'pending' || r.expiresAt.getTime() > now.getTime()) return false;
        await this.expireLocked(c, r, now);
        return true;
      });
      if (expired) {
        n++;
        this.messages.refresh(id);
      }
    }
    return n;
  }

  private async expireLocked(c: pg.PoolClient, r: ChangeRequest, now: Date): Promise<void> {
    if (!(await store.markExpired(c, r.id, now))) return;
    const counting = countingApprovals(r, await store.approvalsFor(c, r.id));
    await appendEvent(c, {
      type: 'change.expired', actor: 'firebreak', at: now, subject: subject(r.id),
      payload: { kind: r.kind, approvals: counting.map((a) => a.approver), required: r.approvalsRequired },
    });
  }

  private async voidLocked(c: pg.PoolClient, r: ChangeRequest, reason: string, actor: string, now: Date): Promise<void> {
    await store.markVoid(c, r.id, reason, now);
    await appendEvent(c, {
      type: 'change.voided', actor, at: now, subject: subject(r.id),
      payload: { kind: r.kind, reason, approvedHash: r.paramsHash, actualHash: paramsHash(r.params) },
    });
  }

  /**
   * Runs approved requests that never started (the process stopped between the last approval
   * and the claim). Safe on every replica at once: the claim decides.
   */
  async resumeApproved(): Promise<number> {
    const approved = await store.approvedRequestIds(this.ctx.pool);
    for (const id of approved) await this.startExecution(id);
    // Runs left `executing` with no job behind them (started by a version that ran them in
    // memory, or whose job was given up and cleaned away) are closed as interrupted.
    for (const id of await store.executingWithoutJob(this.ctx.pool, 'change-exec:')) {
      const payload: ExecuteJob = { requestId: id, approvers: [], interrupted: true };
      await this.ctx.jobs.enqueue(EXECUTE_QUEUE, { ...payload }, { runAt: this.now(), dedupeKey: `change-exec:${id}`, maxAttempts: EXECUTE_MAX_ATTEMPTS });
    }
    return approved.length;
  }

  /** Claims the approved request for execution; only one caller anywhere gets it. */
  private async startExecution(id: number): Promise<void> {
    const now = this.now();
    const claimed = await withTransaction(this.ctx.pool, async (c) => {
      const r = await store.claimExecution(c, id, now);
      if (!r) return undefined;
      // Re-check the binding under the claim: what runs is exactly what was approved.
      const counting = countingApprovals(r, await store.approvalsFor(c, id));
      if (paramsHash(r.params) !== r.paramsHash || counting.length < r.approvalsRequired) {
        await this.voidLocked(c, r, 'its parameters no longer match the approved ones', 'firebreak', now);
        return undefined;
      }
      await this.ctx.jobs.cancel(`change-expire:${id}`, c);
      const approvers = counting.map((a) => a.approver);
      await appendEvent(c, {
        type: 'change.started', actor: 'firebreak', at: now, subject: subject(id),
        payload: { kind: r.kind, paramsHash: r.paramsHash, because: 'approved', approvers },
      });
      return { request: r, approvers, jobId: await this.enqueueExecution(c, id, approvers) };
    });
    if (claimed) this.runExecution(id, claimed.jobId);
  }

  /** Every start of a run enqueues its job in the transaction that marks the request `executing`. */
  private enqueueExecution(c: pg.PoolClient, id: number, approvers: string[]): Promise<number | null> {
    const payload: ExecuteJob = { requestId: id, approvers };
    return this.ctx.jobs.enqueue(EXECUTE_QUEUE, { ...payload }, { runAt: this.now(), dedupeKey: `change-exec:${id}`, maxAttempts: EXECUTE_MAX_ATTEMPTS }, c);
  }

  /** Runs the job here at once; tracked as background work so a graceful shutdown waits for it. */
  private runExecution(id: number, jobId: number | null): void {
    if (jobId === null) return;
    this.ctx.background.run(`change:${id}`, async () => {
      await this.ctx.jobs.runNow(jobId);
    });
  }

  /**
   * The execution job, whether the change was approved or started at once (pre-approved,
   * break-glass): one path. The first attempt runs the executor and records what it did. A later
   * attempt means the replica running it died (or lost the database) before recording the
   * outcome: a restartable action (a backup, a dry run) is run again from the start here, so
   * an acknowledged `/backup now` survives a kill -9 of the replica running it; any other may
   * have half-happened, so it is never re-run silently: the run is recorded as failed and the
   * requester told to check and ask again.
   */
  async execute(job: Job): Promise<void> {
    const { requestId, approvers, interrupted } = job.payload as unknown as ExecuteJob;
    const req = await store.getRequest(this.ctx.pool, requestId);
    if (!req || req.status !== 'executing') return;
    let result: ActionResult;
    const action = this.actions.get(req.kind);
    const restarted = !interrupted && job.attempts > 1 && action?.restartable === true;
    if (interrupted || (job.attempts > 1 && !restarted)) {
      this.ctx.log.warn({ changeRequestId: requestId, attempt: job.attempts }, 'change run interrupted before its outcome was recorded; not re-running it');
      result = { ok: false, summary: INTERRUPTED_SUMMARY };
    } else {
      if (restarted) this.ctx.log.warn({ changeRequestId: requestId, kind: req.kind, attempt: job.attempts }, 'change run interrupted before its outcome was recorded; starting it again (its action is restartable)');
      try {
        if (!action) throw new Error(`no executor is registered for ${req.kind}`);
        result = await action.execute(req.params, { requestId: req.id, requester: req.requester, approvers, ...(restarted ? { restarted } : {}) });
      } catch (err) {
        result = { ok: false, summary: `failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    const now = this.now();
    const recorded = await withTransaction(this.ctx.pool, async (c) => {
      if (!(await store.finishExecution(c, req.id, result.ok, result.summary, now))) return false;
      await appendEvent(c, {
        type: result.ok ? 'change.executed' : 'change.failed', actor: 'firebreak', at: now, subject: subject(req.id),
        payload: { kind: req.kind, paramsHash: req.paramsHash, ok: result.ok, summary: result.summary, approvers, ...(result.summary === INTERRUPTED_SUMMARY ? { interrupted: true } : {}) },
      });
      return true;
    });
    // Someone else closed it meanwhile (another replica took the run over): their outcome stands.
    if (!recorded) return;
    this.messages.refresh(req.id);
    await this.messages.tellResult(req, result);
  }

  async get(id: number): Promise<ChangeRequest | undefined> {
    return store.getRequest(this.ctx.pool, id);
  }

  async approvals(id: number): Promise<Approval[]> {
    return store.approvalsFor(this.ctx.pool, id);
  }

  async listActive(limit = 20): Promise<ChangeRequest[]> {
    return store.listActive(this.ctx.pool, limit);
  }

  async view(id: number): Promise<ChangeRequestView | undefined> {
    const request = await store.getRequest(this.ctx.pool, id);
    if (!request) return undefined;
    const all = await store.approvalsFor(this.ctx.pool, id);
    const counting = countingApprovals(request, all);
    const policy = this.policy(request.kind);
    const action = this.actions.get(request.kind);
    let description = request.title;
    try {
      if (action) description = action.describe(request.params);
    } catch {
      /* describe is a nicety; the title stands in */
    }
    return {
      request, description, now: this.now(),
      approvedBy: counting.map((a) => a.approver),
      voidedApprovers: [...new Set(all.filter((a) => a.paramsHash !== request.paramsHash).map((a) => a.approver))],
      approvers: policy.approvers, approverGroups: policy.approverGroups, breakGlassAllowed: policy.breakGlass,
    };
  }

  approvalsChannelName(): string {
    return this.ctx.config.approvals.channel.replace(/^#/, '');
  }
}
