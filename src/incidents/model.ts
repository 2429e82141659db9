import type { Severity } from './config.js';

export type IncidentStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved';
export const INCIDENT_STATUSES: IncidentStatus[] = ['investigating', 'identified', 'monitoring', 'resolved'];
export type IncidentRole = 'commander' | 'comms' | 'tech';

/** The incident field that holds each role. */
export const ROLE_FIELD = { commander: 'commander', comms: 'commsLead', tech: 'techLead' } as const satisfies Record<IncidentRole, keyof Incident>;

export const ROLE_LABEL: Record<IncidentRole, string> = { commander: 'incident commander', comms: 'comms lead', tech: 'tech lead' };

/** Accepts commander/ic, comms/communications, tech/technical (any case). */
export function parseRole(word: string | undefined): IncidentRole | undefined {
  const w = (word ?? '').toLowerCase();
  if (['commander', 'ic', 'incident-commander'].includes(w)) return 'commander';
  if (['comms', 'communications', 'comms-lead'].includes(w)) return 'comms';
  if (['tech', 'technical', 'tech-lead'].includes(w)) return 'tech';
  return undefined;
}

export function parseStatus(word: string | undefined): IncidentStatus | undefined {
  const w = (word ?? '').toLowerCase();
  return INCIDENT_STATUSES.find((s) => s === w);
}

/** Response metrics in milliseconds from declare; null until the moment has happened. */
export interface IncidentMetrics {
  mtta: number | null;
  mttm: number | null;
  mttr: number | null;
}

export function incidentMetrics(i: Pick<Incident, 'declaredAt' | 'acknowledgedAt' | 'mitigatedAt' | 'resolvedAt'>): IncidentMetrics {
  const since = (d: Date | null) => (d ? d.getTime() - i.declaredAt.getTime() : null);
  return { mtta: since(i.acknowledgedAt), mttm: since(i.mitigatedAt), mttr: since(i.resolvedAt) };
}

export interface Incident {
  id: number;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  summary: string | null;
  service: string | null;
  declaredBy: string;
  commander: string | null;
  commsLead: string | null;
  techLead: string | null;
  channelId: string | null;
  channelName: string | null;
  headlineTs: string | null;
  setupErrors: Record<string, string>;
  declaredAt: Date;
  acknowledgedAt: Date | null;
  identifiedAt: Date | null;
  mitigatedAt: Date | null;
  resolvedAt: Date | null;
  /** Last stakeholder update (`/incident update`); reminders count the cadence from here. */
  lastUpdateAt: Date | null;
  /** Reminders sent since the last update that nobody answered with an update. */
  missedReminders: number;
}

/** Accepts P1, p1, sev1, SEV-1, Sev 1, S1. Returns undefined for anything else. */
export function parseSeverity(word: string | undefined): Severity | undefined {
  if (!word) return undefined;
  const m = /^(?:p|sev[-_ ]?|s)([0-4])$/i.exec(word.trim());
  return m ? (`P${m[1]}` as Severity) : undefined;
}

export const SEVERITY_MEANING: Record<Severity, string> = {
  P0: 'critical: the whole service down or data being lost',
  P1: 'major: a core function down or data at risk',
  P2: 'partial outage or degraded',
  P3: 'minor, can wait',
  P4: 'cosmetic or informational',
};
