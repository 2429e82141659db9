import type { Counter } from 'prom-client';
import { httpRequests, jobFailures, readinessFailures, slackApiErrors } from '../ops/metrics.js';

/** The error signals a configuration switch is judged by. */
export type SignalName = 'slack' | 'jobs' | 'http5xx' | 'readiness';
export const SIGNAL_NAMES: readonly SignalName[] = ['slack', 'jobs', 'http5xx', 'readiness'];

/**
 * Cumulative totals since this process started, per signal, and per detail within it (Slack's
 * error code, the job queue, the HTTP route), so a watch can subtract the sample taken at the
 * switch and say what rose.
 */
export interface SignalSample {
  totals: Record<SignalName, number>;
  detail: Record<SignalName, Record<string, number>>;
}

export interface ErrorSignals {
  sample(): Promise<SignalSample>;
}

/**
 * Routes whose 5xx count against a new configuration: where Slack, the console and monitoring
 * reach Firebreak. Health probes and /metrics are left out (readiness is its own signal).
 */
export function isReceiverRoute(route: string): boolean {
  return route.startsWith('/slack/') || route.startsWith('/webhooks/') || route.startsWith('/console/api/');
}

async function sumBy<L extends string>(counter: Counter<L>, keyOf: (labels: Partial<Record<L, string | number>>) => string | undefined): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) {
    const key = keyOf(v.labels);
    if (key === undefined) continue;
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

const total = (by: Record<string, number>) => Object.values(by).reduce((a, b) => a + b, 0);

/**
 * This process's own counters from the one Prometheus registry: failed Slack Web API calls
 * (`firebreak_slack_api_errors_total`, 429s not counted: they are waited out), failed job
 * attempts (`firebreak_job_failures_total`), 5xx answered on receiver routes
 * (`firebreak_http_requests_total`), readiness probes answered not ready
 * (`firebreak_readiness_failures_total`).
 */
export function processErrorSignals(): ErrorSignals {
  return {
    sample: async () => {
      const [slack, jobs, http5xx, readiness] = await Promise.all([
        sumBy(slackApiErrors, (l) => String(l.error ?? 'other')),
        sumBy(jobFailures, (l) => String(l.queue ?? 'unknown')),
        sumBy(httpRequests, (l) => (Number(l.status) >= 500 && isReceiverRoute(String(l.route ?? '')) ? String(l.route) : undefined)),
        sumBy(readinessFailures, () => 'not_ready'),
      ]);
      const detail = { slack, jobs, http5xx, readiness };
      return { totals: { slack: total(slack), jobs: total(jobs), http5xx: total(http5xx), readiness: total(readiness) }, detail };
    },
  };
}
