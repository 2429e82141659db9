import { createHash } from 'node:crypto';
import type { Severity } from '../incidents/config.js';
import type { Incident } from '../incidents/model.js';

/**
 * pending: a delivery is in flight; triggered: PagerDuty accepted the trigger; failed: every
 * attempt failed (the channel has a Retry paging button); resolved: the resolve was accepted;
 * resolve_failed: the resolve could not be delivered (the PagerDuty incident may still be open).
 */
export type PageStatus = 'pending' | 'triggered' | 'failed' | 'resolved' | 'resolve_failed';

/** One service paged for one incident: one PagerDuty alert, one dedup key. */
export interface Page {
  id: number;
  incidentId: number;
  service: string;
  routingKeyEnv: string;
  dedupKey: string;
  status: PageStatus;
  attempts: number;
  lastError: string | null;
  pdIncidentId: string | null;
  pdIncidentUrl: string | null;
  requestedBy: string;
  reason: string;
  createdAt: Date;
  updatedAt: Date;
  triggeredAt: Date | null;
  resolvedAt: Date | null;
  /** The "Paged …" message with the PagerDuty buttons, edited when PagerDuty's state changes. */
  notice?: { channel: string; ts: string; attempts: number; retriedBy: string | null } | null;
  /** Who acknowledged it in PagerDuty (a Slack user id, or PagerDuty's name for the person). */
  acknowledgedBy?: string | null;
  acknowledgedAt?: Date | null;
}

export type PdSeverity = 'critical' | 'error' | 'warning' | 'info';

/** P0/P1 wake people (critical), P2 is an error, P3 a warning, P4 informational. */
export const PD_SEVERITY: Record<Severity, PdSeverity> = { P0: 'critical', P1: 'critical', P2: 'error', P3: 'warning', P4: 'info' };

export const MAX_DEDUP_KEY = 255;
export const MAX_SUMMARY = 1024;

/**
 * The dedup key of an incident's page to a service. Derived only from stable facts (prefix,
 * incident id, service) so every retry, the Retry button and the resolve all name the same
 * PagerDuty alert. Longer than PagerDuty's 255 characters cannot happen with validated names,
 * but is hashed rather than cut so two keys can never collide by truncation.
 */
export function dedupKeyFor(prefix: string, incidentId: number, service: string): string {
  const key = `${prefix}-incident-${incidentId}-${service}`;
  if (key.length <= MAX_DEDUP_KEY) return key;
  return `${prefix.slice(0, 64)}-incident-${incidentId}-${createHash('sha256').update(service).digest('hex')}`;
}

/** Cuts to PagerDuty's limit on a character (not UTF-16 unit) boundary, marking the cut. */
export function truncateSummary(s: string, max = MAX_SUMMARY): string {
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  return chars.slice(0, max - 1).join('') + '…';
}

export function pageSummary(i: Pick<Incident, 'id' | 'severity' | 'title'>): string {
  return truncateSummary(`[${i.severity}] INC-${i.id}: ${i.title}`);
}

/** What asking for a page got: started, already paged, or why not. */
export type PageRequestOutcome =
  | { status: 'started'; page: Page }
  | { status: 'already'; page: Page }
  | { status: 'disabled' }
  | { status: 'no_key'; service: string; envName: string }
  | { status: 'unknown_service'; service: string; known: string[] }
  | { status: 'no_incident'; incidentId: number }
  | { status: 'incident_resolved'; incidentId: number };
