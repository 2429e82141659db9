import type { PagingConfig } from './config.js';
import type { AttemptResult } from './provider.js';

export interface DeliveryPolicy {
  attempts: number;
  timeoutMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  maxRetryAfterMs: number;
}

export const policyFromConfig = (d: PagingConfig['delivery']): DeliveryPolicy => ({
  attempts: d.attempts,
  timeoutMs: d.timeoutSeconds * 1000,
  backoffMs: d.backoffSeconds * 1000,
  maxBackoffMs: d.maxBackoffSeconds * 1000,
  maxRetryAfterMs: d.maxRetryAfterSeconds * 1000,
});

/** How the retry loop waits; tests pass one that records the delay and returns at once. */
export type Sleep = (ms: number) => Promise<void>;

/** Unref'd, so a pending backoff never keeps a stopping process alive. */
export const timerSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Delay before attempt n+1 after attempt n failed: Retry-After when given (capped), else doubling backoff. */
export function retryDelay(policy: DeliveryPolicy, failedAttempt: number, result: Extract<AttemptResult, { ok: false }>): number {
  if (result.retryAfterMs !== undefined) return Math.min(result.retryAfterMs, policy.maxRetryAfterMs);
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (failedAttempt - 1));
}

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  /** The last failure, for the channel message and the pages table. */
  lastError?: string;
  status?: number;
  /** Shutdown stopped the loop: nothing is known to have failed, so the caller must not report failure. */
  interrupted?: boolean;
  /** The attempts ran out on a failure worth retrying (5xx, 429, timeout, reset): a later run may succeed. */
  retryable?: boolean;
}

/**
 * Calls `send` until it succeeds, a failure is not worth retrying, or the attempts run out.
 * Each call gets its own AbortSignal that fires after `timeoutMs`, so a hung connection is
 * cancelled rather than left open. `onAttempt` sees every result (to record it) before the wait.
 * `stop` (graceful shutdown) cancels the call in flight and ends the loop as `interrupted`.
 */
export async function deliverWithRetries(
  send: (signal: AbortSignal) => Promise<AttemptResult>,
  policy: DeliveryPolicy,
  sleep: Sleep,
  onAttempt?: (attempt: number, result: AttemptResult) => Promise<void>,
  stop?: AbortSignal,
): Promise<DeliveryOutcome> {
  let last: Extract<AttemptResult, { ok: false }> | undefined;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (stop?.aborted) return { ok: false, attempts: attempt - 1, lastError: 'interrupted by shutdown', interrupted: true };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), policy.timeoutMs);
    timer.unref();
    let result: AttemptResult;
    try {
      result = await send(stop ? AbortSignal.any([controller.signal, stop]) : controller.signal);
    } catch (err) {
      // Providers should not throw; if one does, treat it like a network failure.
      result = { ok: false, retryable: true, error: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
    if (!result.ok && stop?.aborted) return { ok: false, attempts: attempt, lastError: 'interrupted by shutdown', interrupted: true };
    await onAttempt?.(attempt, result);
    if (result.ok) return { ok: true, attempts: attempt, status: result.status };
    last = result;
    if (!result.retryable || attempt === policy.attempts) {
      return { ok: false, attempts: attempt, lastError: result.error, ...(result.status ? { status: result.status } : {}), ...(result.retryable ? { retryable: true } : {}) };
    }
    await sleep(retryDelay(policy, attempt, result));
  }
  return { ok: false, attempts: policy.attempts, lastError: last?.error ?? 'no attempt was made' };
}
