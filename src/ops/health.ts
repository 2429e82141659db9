/** Readiness checks: dependency name -> resolves when up, throws when down. */
export type ReadinessCheck = () => Promise<void>;

export interface CheckResult {
  status: 'up' | 'down';
  /** Whether this check being down makes the replica not ready. */
  required: boolean;
  latencyMs: number;
  error?: string;
}

class CheckTimeout extends Error {}

/** Runs every check at once, each bounded by `timeoutMs` so a hung dependency cannot hang the probe. */
export async function runChecks(
  checks: Record<string, ReadinessCheck>,
  required: readonly string[],
  timeoutMs: number,
): Promise<Record<string, CheckResult>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { status: 'up', required: required.includes(name), latencyMs: elapsed(started) }];
      } catch (e) {
        return [name, { status: 'down', required: required.includes(name), latencyMs: elapsed(started), error: describe(e) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 10) / 10;

function describe(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length) return describe(e.errors[0]);
  const err = e as { code?: string; message?: string };
  const msg = err?.message || err?.code || String(e);
  // Connection errors can quote the URL they tried; never echo credentials into a probe body.
  return msg.replace(/\/\/[^/@\s]*@/g, '//***@').slice(0, 300);
}

/**
 * Wraps a check so it runs at most once per `ttlMs` and serves the cached answer in between:
 * load balancers probe every few seconds and Slack's auth.test has a rate limit.
 */
export function cachedCheck(check: ReadinessCheck, ttlMs: number, now: () => number = Date.now): ReadinessCheck {
  let cached: { at: number; error?: unknown } | undefined;
  let inflight: Promise<void> | undefined;
  return async () => {
    // Failures are re-checked sooner, so recovery shows within seconds.
    if (cached && now() - cached.at < (cached.error === undefined ? ttlMs : Math.min(ttlMs, 5000))) {
      if (cached.error !== undefined) throw cached.error;
      return;
    }
    inflight ??= check()
      .then(() => {
        cached = { at: now() };
      })
      .catch((error: unknown) => {
        cached = { at: now(), error: error ?? new Error('check failed') };
      })
      .finally(() => {
        inflight = undefined;
      });
    await inflight;
    if (cached?.error !== undefined) throw cached.error;
  };
}

/**
 * The configuration version for /health/ready: `{ version, hash }` of what the replica runs, or
 * null when it runs a file that was never stored as a version.
 */
export function configVersionBody(ref: { id: number; hash: string } | undefined): { version: number; hash: string } | null {
  return ref ? { version: ref.id, hash: ref.hash } : null;
}
