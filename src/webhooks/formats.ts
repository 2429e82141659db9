import { z } from 'zod';
import { fingerprintOf, parseEndsAt, type AlertSource, type IncomingAlert } from '../alerts/model.js';

/*
 * The payloads each monitoring system sends, validated with zod and turned into the one
 * alert model (src/alerts/model.ts). Unknown extra fields are allowed: senders add fields
 * between versions and that must not turn alerts away.
 */

const labelSet = z.record(z.string(), z.string());
const timestamp = z.string().refine((s) => !Number.isNaN(new Date(s).getTime()), 'an RFC 3339 timestamp');
const status = z.enum(['firing', 'resolved']);

const prometheusAlert = z.object({
  status,
  labels: labelSet.refine((l) => Object.keys(l).length > 0, 'at least one label'),
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().max(200).optional(),
});

/** Prometheus Alertmanager's webhook (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export const alertmanagerPayload = z.object({
  version: z.literal('4', { error: 'version must be "4" (Alertmanager webhook v4)' }),
  groupKey: z.string().optional(),
  status: status.optional(),
  receiver: z.string().optional(),
  alerts: z.array(prometheusAlert).max(10_000),
});

/** Grafana unified alerting's webhook contact point (same alert shape, version "1"). */
export const grafanaPayload = z.object({
  receiver: z.string().optional(),
  status: status.optional(),
  alerts: z.array(prometheusAlert).max(10_000),
  version: z.string().optional(),
});

function fromPrometheus(source: AlertSource, a: z.infer<typeof prometheusAlert>, now: Date): IncomingAlert {
  const endsAt = parseEndsAt(a.endsAt);
  return {
    source,
    fingerprint: a.fingerprint || fingerprintOf(a.labels),
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    startsAt: new Date(a.startsAt),
    endsAt: a.status === 'resolved' ? (endsAt ?? now) : endsAt,
    generatorUrl: a.generatorURL || null,
  };
}

export function alertmanagerAlerts(p: z.infer<typeof alertmanagerPayload>, now: Date): IncomingAlert[] {
  return p.alerts.map((a) => fromPrometheus('alertmanager', a, now));
}

export function grafanaAlerts(p: z.infer<typeof grafanaPayload>, now: Date): IncomingAlert[] {
  return p.alerts.map((a) => fromPrometheus('grafana', a, now));
}

const genericAlert = z.object({
  title: z.string().min(1, 'a title').max(500),
  severity: z.string().max(50).optional(),
  status: status.default('firing'),
  labels: labelSet.default({}),
  annotations: labelSet.default({}),
  fingerprint: z.string().min(1).max(200).optional(),
  startsAt: timestamp.optional(),
  endsAt: timestamp.optional(),
});

/** The generic receiver's documented shape: one alert, or `{ "alerts": [ ... ] }`. */
export const genericPayload = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('alerts' in v) ? { alerts: [v] } : v),
  z.object({ alerts: z.array(genericAlert).min(1).max(10_000) }),
);

export function genericAlerts(p: z.infer<typeof genericPayload>, now: Date): IncomingAlert[] {
  return p.alerts.map((a) => {
    const labels = { alertname: a.title, ...a.labels, ...(a.severity ? { severity: a.severity } : {}) };
    const endsAt = parseEndsAt(a.endsAt);
    return {
      source: 'generic',
      fingerprint: a.fingerprint ?? fingerprintOf(labels),
      status: a.status,
      labels,
      annotations: { summary: a.title, ...a.annotations },
      startsAt: a.startsAt ? new Date(a.startsAt) : now,
      endsAt: a.status === 'resolved' ? (endsAt ?? now) : endsAt,
      generatorUrl: null,
    };
  });
}
