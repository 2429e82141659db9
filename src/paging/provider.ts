import type { PdSeverity } from './model.js';

/** One Events API v2 event as Firebreak builds it; the provider turns it into its wire format. */
export interface AlertEvent {
  action: 'trigger' | 'resolve';
  routingKey: string;
  dedupKey: string;
  /** Trigger only. */
  trigger?: {
    summary: string;
    severity: PdSeverity;
    source: string;
    timestamp: string;
    component?: string;
    group?: string;
    class?: string;
    customDetails: Record<string, unknown>;
    links: { href: string; text: string }[];
  };
}

/** The outcome of one call: never thrown, so the retry policy sees every failure the same way. */
export type AttemptResult =
  | { ok: true; status: number }
  | {
      ok: false;
      /** 429, 5xx, timeouts and network errors are worth another try; a 400 (bad key, bad event) is not. */
      retryable: boolean;
      status?: number;
      /** From a Retry-After header, when the answer had one. */
      retryAfterMs?: number;
      error: string;
    };

export interface OnCallEntry {
  userName: string;
  userUrl?: string;
  escalationPolicyId: string;
  escalationPolicyName: string;
  escalationLevel: number;
  scheduleName?: string;
  /** Null for always-on-call levels (no schedule). */
  end: string | null;
}

/** Raised for REST API failures; `message` is written for the person who ran the command. */
export class PagingApiError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'PagingApiError';
  }
}

/** What Firebreak needs from an on-call system. PagerDuty implements it (src/paging/pagerduty.ts). */
export interface PagingProvider {
  /** Sends one event, once. Must stop and settle when `signal` aborts. */
  send(event: AlertEvent, signal: AbortSignal): Promise<AttemptResult>;
  /** Everyone on call now, every page of the answer. */
  onCalls(filter: { escalationPolicyIds?: string[] }, signal: AbortSignal): Promise<OnCallEntry[]>;
}
