import type { IncomingAlert } from './model.js';
import { pathOf, textProblem } from '../http/unstorable-text.js';

/*
 * What PostgreSQL and Slack accept, checked before anything is queued: a value either side
 * refuses would otherwise fail the shared write late, as a 5xx the sender retries forever.
 */

/** Bounds on one alert, generous for real monitoring and small enough for a Slack message. */
export const ALERT_LIMITS = {
  labels: 100,
  annotations: 100,
  keyChars: 256,
  labelValueChars: 4096,
  annotationValueChars: 16_384,
  urlChars: 2048,
} as const;

/**
 * Years RFC 3339 can write: inside PostgreSQL's timestamptz range (4713 BC to 294276 AD),
 * and Alertmanager's "no end" (0001-01-01) still fits.
 */
// Date.UTC maps years 0-99 to 19xx, so the first instant of year 1 is set explicitly.
const MIN_TIME = new Date(0).setUTCFullYear(1, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function dateProblem(d: Date): string | undefined {
  const t = d.getTime();
  if (Number.isNaN(t)) return 'is not a valid timestamp';
  if (t < MIN_TIME || t > MAX_TIME) return 'is outside 0001-01-01..9999-12-31 (PostgreSQL cannot store it)';
  return undefined;
}

function mapProblem(path: string, map: Record<string, string>, maxEntries: number, maxValue: number): string | undefined {
  const keys = Object.keys(map);
  if (keys.length > maxEntries) return `${path}: ${keys.length} entries, at most ${maxEntries} allowed`;
  for (const k of keys) {
    const p = pathOf(path, k);
    if (k.length > ALERT_LIMITS.keyChars) return `${path}: a key longer than ${ALERT_LIMITS.keyChars} characters`;
    const kp = textProblem(k);
    if (kp) return `${path}: a key ${kp}`;
    const v = map[k]!;
    if (typeof v !== 'string') return `${p}: must be a string`;
    if (v.length > maxValue) return `${p}: ${v.length} characters, at most ${maxValue} allowed`;
    const vp = textProblem(v);
    if (vp) return `${p}: ${vp}`;
  }
  return undefined;
}

/**
 * Checks alerts in the one alert model, whatever receiver built them (SNS and PagerDuty
 * derive fields from free text): the field named in the answer is the alert's.
 */
export function alertProblem(alerts: IncomingAlert[]): string | undefined {
  for (let i = 0; i < alerts.length; i++) {
    const a = alerts[i]!;
    const at = `alerts[${i}]`;
    const p = mapProblem(`${at}.labels`, a.labels, ALERT_LIMITS.labels, ALERT_LIMITS.labelValueChars)
      ?? mapProblem(`${at}.annotations`, a.annotations, ALERT_LIMITS.annotations, ALERT_LIMITS.annotationValueChars);
    if (p) return p;
    const fp = textProblem(a.fingerprint);
    if (fp) return `${at}.fingerprint: ${fp}`;
    if (a.fingerprint.length > 200) return `${at}.fingerprint: longer than 200 characters`;
    const sp = dateProblem(a.startsAt);
    if (sp) return `${at}.startsAt: ${sp}`;
    const ep = a.endsAt ? dateProblem(a.endsAt) : undefined;
    if (ep) return `${at}.endsAt: ${ep}`;
    if (a.generatorUrl !== null) {
      if (a.generatorUrl.length > ALERT_LIMITS.urlChars) return `${at}.generatorURL: longer than ${ALERT_LIMITS.urlChars} characters`;
      const up = textProblem(a.generatorUrl);
      if (up) return `${at}.generatorURL: ${up}`;
    }
  }
  return undefined;
}
