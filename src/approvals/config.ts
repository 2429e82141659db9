import { z } from 'zod';

const userId = z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id such as U012ABC');
const groupId = z.string().regex(/^S[A-Z0-9]+$/, 'a Slack user group id such as S012ABC');

/** The change-management policy for one action kind; every field optional (see policyFor). */
export const actionPolicySchema = z.strictObject({
  /** Slack user ids whose approval counts. Empty (and no groups): the section's approvers. */
  approvers: z.array(userId).optional(),
  /** Slack user groups whose members' approval counts; resolved when someone clicks. */
  approverGroups: z.array(groupId).optional(),
  /** Distinct approvers needed, never counting the requester. 0 = runs at once, recorded. */
  approvalsRequired: z.number().int().min(0).max(10).optional(),
  /** Minutes a request stays open before it expires unapproved. */
  expiryMinutes: z.number().int().positive().max(7 * 24 * 60).optional(),
  /** Whether a requester may skip approval with a reason (runs at once, flagged for review). */
  breakGlass: z.boolean().optional(),
  /** A standard change the team has pre-approved: runs at once, still audited. */
  preApproved: z.boolean().optional(),
});
export type ActionPolicyInput = z.input<typeof actionPolicySchema>;

export interface ActionPolicy {
  approvers: string[];
  approverGroups: string[];
  approvalsRequired: number;
  expiryMinutes: number;
  breakGlass: boolean;
  preApproved: boolean;
}

/**
 * Built-in policy per gated action kind: one approver besides the requester, except DR
 * execution, which replaces production and needs two. `/backup now` and `/dr dry-run` are
 * gated too until a team marks them `preApproved` (a standard change).
 */
export const DEFAULT_ACTION_POLICIES: Record<string, Partial<ActionPolicy>> = {
  'backup.now': { approvalsRequired: 1 },
  'backup.restore': { approvalsRequired: 1 },
  'dr.dry-run': { approvalsRequired: 1 },
  'dr.execute': { approvalsRequired: 2 },
  // Point-in-time recovery (src/pitr): gated like their logical counterparts.
  'backup.physical': { approvalsRequired: 1 },
  'dr.pitr-dry-run': { approvalsRequired: 1 },
  'dr.pitr-execute': { approvalsRequired: 2 },
  'retention.change': { approvalsRequired: 1 },
  'change.standard': { approvalsRequired: 1 },
  'change.normal': { approvalsRequired: 1 },
  'change.emergency': { approvalsRequired: 1, breakGlass: true },
  // A public status page update (src/statuspage): someone other than its author reads it first.
  'statuspage.publish': { approvalsRequired: 1 },
  // A new configuration version or a rollback by hand (src/configversions).
  'config.change': { approvalsRequired: 1 },
};

export const approvalsConfigSchema = z
  .object({
    /** Channel (name or id) where approval requests are posted. */
    channel: z.string().default('approvals'),
    /** Default minutes before an unapproved request expires. */
    expiryMinutes: z.number().int().positive().max(7 * 24 * 60).default(30),
    /**
     * Approvers for every kind that lists none of its own. When this is empty too, any
     * workspace member other than the requester may approve (the four-eyes rule still holds).
     */
    approvers: z.array(userId).default([]),
    approverGroups: z.array(groupId).default([]),
    /** Per action kind (`backup.restore`, `dr.execute`, `change.normal`, ...): overrides. */
    actions: z.record(z.string(), actionPolicySchema).default({}),
  })
  .prefault({});
export type ApprovalsConfig = z.infer<typeof approvalsConfigSchema>;

/** The effective policy for a kind: built-in defaults, then the section defaults, then the kind's own config. */
export function policyFor(config: ApprovalsConfig, kind: string): ActionPolicy {
  const own = config.actions[kind] ?? {};
  const builtIn = DEFAULT_ACTION_POLICIES[kind] ?? {};
  const approvers = own.approvers ?? builtIn.approvers ?? [];
  const approverGroups = own.approverGroups ?? builtIn.approverGroups ?? [];
  const hasOwn = approvers.length > 0 || approverGroups.length > 0;
  return {
    approvers: hasOwn ? approvers : config.approvers,
    approverGroups: hasOwn ? approverGroups : config.approverGroups,
    approvalsRequired: own.approvalsRequired ?? builtIn.approvalsRequired ?? 1,
    expiryMinutes: own.expiryMinutes ?? builtIn.expiryMinutes ?? config.expiryMinutes,
    breakGlass: own.breakGlass ?? builtIn.breakGlass ?? false,
    preApproved: own.preApproved ?? builtIn.preApproved ?? false,
  };
}

/** Whether the policy asks anyone before the action runs (not pre-approved, approvals > 0). */
export const needsApproval = (p: ActionPolicy): boolean => !p.preApproved && p.approvalsRequired > 0;
