import { hash } from 'node:crypto';
import { labelsKey, type Labels } from './matchers.js';

export type AlertSource = 'alertmanager' | 'grafana' | 'sns' | 'generic' | 'pagerduty';
export type AlertStatus = 'firing' | 'resolved';

/** One alert, whatever sent it: the shape every receiver turns its payload into. */
export interface IncomingAlert {
  source: AlertSource;
  /** Identity across re-deliveries and HA pairs; computed from the labels when the sender has none. */
  fingerprint: string;
  status: AlertStatus;
  labels: Labels;
  /** `summary`, `description`, `runbook_url`, ... */
  annotations: Labels;
  startsAt: Date;
  endsAt: Date | null;
  generatorUrl: string | null;
}

export interface StoredAlert extends IncomingAlert {
  id: number;
  receivedCount: number;
  lastReceivedAt: Date;
}

export interface AlertGroup {
  id: number;
  groupKey: string;
  routeKey: string;
  channel: string;
  groupLabels: Labels;
  createdAt: Date;
  version: number;
  notifiedVersion: number;
  lastNotifiedAt: Date | null;
  incidentId: number | null;
  declares: number;
  lastDeclaredAt: Date | null;
  allResolvedNoticed: boolean;
  acknowledgedBy: string | null;
  acknowledgedAt: Date | null;
  silencedUntil: Date | null;
  silencedBy: string | null;
  /** When this episode escalated (route escalate_after); null when it has not. */
  escalatedAt: Date | null;
  /** When PagerDuty last withdrew the acknowledgement in this episode: escalate_after counts from then. */
  unacknowledgedAt: Date | null;
}

/** Same labels, same fingerprint: how senders without one still de-duplicate. */
export function fingerprintOf(labels: Labels): string {
  // One-shot crypto.hash (Node 20.12+): no Hash object per alert on the intake path.
  return hash('sha256', labelsKey(labels), 'hex').slice(0, 16);
}

/** Senders use the zero time (0001-01-01) for "no end"; anything before 1970 means none. */
export function parseEndsAt(text: string | undefined | null): Date | null {
  if (!text) return null;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 ? null : d;
}

export function alertTitle(a: Pick<IncomingAlert, 'labels' | 'annotations'>): string {
  return a.annotations.summary || a.annotations.title || a.labels.alertname || a.annotations.description || 'Alert';
}
