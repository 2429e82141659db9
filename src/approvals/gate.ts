/**
 * The change gate: how any area runs a risky action under the change-management policy
 * without knowing how approvals work. Areas register an executor per action kind at start;
 * commands call `request`, which runs the action at once (pre-approved standard change,
 * break-glass) or posts an approval request and runs it exactly once when the policy is met.
 */
export interface ChangeRequester {
  userId: string;
  /** Where the requester asked from; results are reported there too. */
  channelId?: string;
}

export interface ActionExecution {
  requestId: number | null;
  requester: string;
  approvers: string[];
  /**
   * Set when this run starts the action again because the replica running it died (or was
   * restarted) before recording its outcome: only for `restartable` actions.
   */
  restarted?: boolean;
}

export interface ActionResult {
  /** One line for the approval message and the audit log: what happened. */
  summary: string;
  ok: boolean;
}

export interface GatedAction<P extends Record<string, unknown> = Record<string, unknown>> {
  kind: string;
  /** One line a human approver reads: what will happen if they approve. */
  describe(params: P): string;
  /**
   * Runs the approved action. May be long (a backup); the gate runs it in the background and
   * records the result. Throwing counts as a failed execution.
   */
  execute(params: P, exec: ActionExecution): Promise<ActionResult>;
  /**
   * Whether running the action again from the start is safe after its replica died mid-run
   * (a backup writes a new one and marks the abandoned one failed; a dry run restores into a
   * new scratch database): such a run is resumed by whichever replica claims its job. Others
   * (a restore over production) may have half-happened, so their run is closed as interrupted
   * and the requester asked to check, never re-run silently.
   */
  restartable?: boolean;
}

export type GateOutcome =
  | { status: 'pending'; requestId: number; approvalsNeeded: number }
  | { status: 'started'; requestId: number | null; reason: 'pre-approved' | 'break-glass' | 'no-approval-required' }
  | { status: 'refused'; message: string };

export interface GateRequestOptions {
  /** Skip approval (only where the kind's policy allows break-glass); runs at once, flagged for review. */
  breakGlassReason?: string;
  /** What approvers see as the headline; defaults to the action's describe(params). */
  title?: string;
  category?: 'standard' | 'normal' | 'emergency';
  risk?: 'low' | 'medium' | 'high';
  /**
   * The chat request asking (its idempotency key). A re-run of that request (its replica died
   * after the change request was made) gets the change request it made, never a second one.
   */
  requestKey?: string;
}

/** A destructive control on something already approved or running (cancel, stop, expire). */
export interface StopRequest {
  /** The policy kind of what is being stopped (`dr.execute`, `backup.restore`, ...). */
  kind: string;
  /** Who asked for the thing being stopped; they may always stop it. */
  requester: string;
  /** What is being stopped, for the audit entry of a refusal (`dr:12`). */
  subject: string;
  /** What the control does, for the refusal message (`cancel DR-12`). */
  what: string;
}

export type StopDecision = { allowed: true; because: 'requester' | 'approver' | 'incident-commander' | 'host-operator' } | { allowed: false; message: string };

export interface ChangeGate {
  register<P extends Record<string, unknown>>(action: GatedAction<P>): void;
  /**
   * Whether `actor` may stop or destroy what `stop` names: its requester, an approver of its
   * kind's policy, or the commander of an open incident. Refusals are audited. One decision,
   * so commands and buttons cannot disagree about who may cancel.
   */
  authorizeStop(stop: StopRequest, actor: string): Promise<StopDecision>;
  request(kind: string, params: Record<string, unknown>, requester: ChangeRequester, opts?: GateRequestOptions): Promise<GateOutcome>;
}
