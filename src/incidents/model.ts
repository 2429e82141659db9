import type { Severity } from './config.js';

export type IncidentStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved';
export const INCIDENT_STATUSES: IncidentStatus[] = ['investigating', 'identified', 'monitoring', 'resolved'];
export type IncidentRole = 'commander' | 'comms' | 'tech';

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
}

/** Accepts P1, p1, sev1, SEV-1, Sev 1, S1. Returns undefined for anything else. */
export function parseSeverity(word: string | undefined): Severity | undefined {
  if (!word) return undefined;
  const m = /^(?:p|sev[-_ ]?|s)([0-4])$/i.exec(word.trim());
  return m ? (`P${m[1]}` as Severity) : undefined;
}

export const SEVERITY_MEANING: Record<Severity, string> = {
  P0: 'critical: service down or data at risk',
  P1: 'major: service down or data at risk',
  P2: 'partial outage or degraded',
  P3: 'minor, can wait',
  P4: 'cosmetic or informational',
};
