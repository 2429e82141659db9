import { canonicalJson, sha256Hex } from '../events/canonical.js';

export const CHANGE_CATEGORIES = ['standard', 'normal', 'emergency'] as const;
export type ChangeCategory = (typeof CHANGE_CATEGORIES)[number];
export const CHANGE_RISKS = ['low', 'medium', 'high'] as const;
export type ChangeRisk = (typeof CHANGE_RISKS)[number];

/**
 * pending -> approved -> executing -> executed | failed; pending -> rejected | expired;
 * pending/approved -> void when the parameters no longer match what was approved.
 */
export type ChangeStatus = 'pending' | 'approved' | 'executing' | 'executed' | 'failed' | 'rejected' | 'expired' | 'void';

export type StartedBecause = 'approved' | 'pre-approved' | 'break-glass' | 'no-approval-required';

export interface MessageRef {
  channel: string;
  ts: string;
}

export interface ChangeRequest {
  id: number;
  kind: string;
  title: string;
  category: ChangeCategory;
  risk: ChangeRisk | null;
  params: Record<string, unknown>;
  paramsHash: string;
  requester: string;
  requesterChannel: string | null;
  status: ChangeStatus;
  approvalsRequired: number;
  startedBecause: StartedBecause | null;
  breakGlassReason: string | null;
  needsReview: boolean;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewNote: string | null;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  rejectedBy: string | null;
  rejectReason: string | null;
  voidReason: string | null;
  executedAt: Date | null;
  finishedAt: Date | null;
  resultOk: boolean | null;
  resultSummary: string | null;
  message: MessageRef | null;
  directMessages: MessageRef[];
}

export interface Approval {
  approver: string;
  paramsHash: string;
  at: Date;
}

/** What an approval is bound to: the exact parameters, byte for byte after canonicalisation. */
export function paramsHash(params: Record<string, unknown>): string {
  return sha256Hex(canonicalJson(params));
}

/** Approvals that still count: given for the request's current parameters, one per person. */
export function countingApprovals(req: Pick<ChangeRequest, 'paramsHash' | 'requester'>, approvals: Approval[]): Approval[] {
  const seen = new Set<string>();
  return approvals.filter((a) => {
    if (a.paramsHash !== req.paramsHash || a.approver === req.requester || seen.has(a.approver)) return false;
    seen.add(a.approver);
    return true;
  });
}
