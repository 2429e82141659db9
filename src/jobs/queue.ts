import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { logContext, withRequestContext } from '../ops/request-context.js';
import { jobFailures } from '../ops/metrics.js';

export interface Job<P = Record<string, unknown>> {
  id: number;
  queue: string;
  dedupeKey: string | null;
  payload: P;
  runAt: Date;
  attempts: number;
  /** The request that enqueued it, so the work's log lines name that request. */
  requestId: string | null;
}

export type JobHandler = (job: Job) => Promise<void>;

/** Handlers recorded while a configuration generation was being built (see JobQueue.capture). */
export type HandlerTable = Map<string, { handler: JobHandler; options: HandlerOptions }>;

export interface HandlerOptions {
  /**
   * How long a claim lasts before another replica may retake the job (renewed while it runs).
   * Short for work people wait on (a declare behind a Slack ack), long for the default.
   */
  claimSeconds?: number;
  /** Wait before attempt n+1 after n failures; default 30 s doubling. */
  retryDelayMs?: (failedAttempts: number) => number;
  /**
   * The longest one attempt may run (default DEFAULT_MAX_RUN_SECONDS). Past it the attempt
   * counts as failed and the job goes back to the queue for its next attempt: a handler stuck
   * on something that never answers must not hold its job, renewing the claim, for ever.
   * Infinity for queues whose work may rightly take hours (a backup or a restore of a large
   * database): the attempt past the ceiling keeps running, so a retry would run it twice.
   */
  maxRunSeconds?: number;
}

/** Default ceiling on one attempt of a job: far above a short job's normal run, under an hour. */
export const DEFAULT_MAX_RUN_SECONDS = 30 * 60;

export class JobTimeoutError extends Error {
  constructor(queue: string, seconds: number) {
    super(`gave up after ${seconds} s (the ${queue} job's ceiling); retried as a new attempt`);
  }
}

export interface EnqueueOptions {
  runAt: Date;
  /** A second enqueue with the same key is a no-op: how replicas and retries avoid duplicates. */
  dedupeKey?: string;
  maxAttempts?: number;
}

/**
 * A durable job queue on one PostgreSQL table. Any replica may run `tick`; SKIP LOCKED and
 * an expiring claim make each job run once, and a crashed replica's claim is retaken
 * after `claimSeconds`.
 */
export class JobQueue {
  private handlers = new Map<string, JobHandler>();
  private options = new Map<string, HandlerOptions>();
  private timer: NodeJS.Timeout | undefined;
  private running = new Set<Promise<void>>();
  private inHandCount = 0;
  private stopped = false;
  /** While set, handle() records here instead of installing (a generation being built). */
  private capturing: HandlerTable | undefined;

  constructor(
    private pool: pg.Pool,
    private clock: Clock,
    private log: Logger,
    readonly workerId: string,
    private claimSeconds = 300,
  ) {}

  handle(queue: string, handler: JobHandler, options: HandlerOptions = {}): void {
    if (this.capturing) {
      this.capturing.set(queue, { handler, options });
      return;
    }
    this.handlers.set(queue, handler);
    this.options.set(queue, options);
  }

  /**
   * From now until `endCapture`, handle() records into a table instead of installing: a new
   * configuration generation registers its handlers while the running one keeps its own, and
   * they take over only at install() (src/app/generation.ts). Reloads are serialised, so one
   * capture at a time.
   */
  beginCapture(): void {
    if (this.capturing) throw new Error('JobQueue: a handler capture is already in progress');
    this.capturing = new Map();
  }

  endCapture(): HandlerTable {
    const table = this.capturing ?? new Map();
    this.capturing = undefined;
    return table;
  }

  /** Installs a captured table; each queue's handler replaces the one registered before (by name). */
  install(table: HandlerTable): void {
    for (const [queue, { handler, options }] of table) {
      this.handlers.set(queue, handler);
      this.options.set(queue, options);
    }
  }

  private claimFor(queue: string): number {
    return this.options.get(queue)?.claimSeconds ?? this.claimSeconds;
  }

  /** Returns the job id, or null when a job with the same dedupe key already exists. */
  async enqueue(queue: string, payload: Record<string, unknown>, opts: EnqueueOptions, db: pg.Pool | pg.PoolClient = this.pool): Promise<number | null> {
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO jobs (queue, dedupe_key, payload, run_at, max_attempts, request_id) VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      [queue, opts.dedupeKey ?? null, JSON.stringify(payload), opts.runAt, opts.maxAttempts ?? 5, logContext().requestId ?? null],
    );
    return rows[0]?.id ?? null;
  }

  /**
   * Takes idempotency keys (processed_requests) and enqueues the jobs that do the work, in one
   * statement (one atomic transaction, one round trip: it sits in front of Slack's
   * acknowledgement). Per item, the job id, or null when its key was taken before (that request
   * is, or was, in the queue); a key repeated within the batch counts once. Each item names its
   * own request: a batch gathers several requests' items.
   */
  async enqueueClaimed(queue: string, items: { key: string; payload: Record<string, unknown>; requestId?: string }[], opts: Omit<EnqueueOptions, 'dedupeKey'>): Promise<(number | null)[]> {
    const firstOf = new Map<string, number>();
    items.forEach((it, i) => firstOf.has(it.key) || firstOf.set(it.key, i));
    const unique = [...firstOf.keys()];
    const { rows } = await this.pool.query<{ id: number; dedupe_key: string }>(
      `WITH input AS (SELECT * FROM unnest($1::text[], $2::jsonb[], $6::text[]) AS t(key, payload, request_id)),
            claimed AS (INSERT INTO processed_requests (key) SELECT key FROM input ON CONFLICT DO NOTHING RETURNING key)
       INSERT INTO jobs (queue, dedupe_key, payload, run_at, max_attempts, request_id)
       SELECT $3, c.key, i.payload, $4, $5, i.request_id FROM claimed c JOIN input i ON i.key = c.key
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key`,
      [unique, unique.map((k) => JSON.stringify(items[firstOf.get(k)!]!.payload)), queue, opts.runAt, opts.maxAttempts ?? 5,
        unique.map((k) => items[firstOf.get(k)!]!.requestId ?? null)],
    );
    const ids = new Map(rows.map((r) => [r.dedupe_key, r.id]));
    return items.map((it, i) => (firstOf.get(it.key) === i ? (ids.get(it.key) ?? null) : null));
  }

  /**
   * Makes the job with this dedupe key due now with a fresh attempt budget (creating it if
   * missing): how a person's "retry now" reaches work that gave up or is backing off. Returns
   * null while a live claim holds it (it is running somewhere).
   */
  async rearm(queue: string, payload: Record<string, unknown>, opts: EnqueueOptions & { dedupeKey: string }, db: pg.Pool | pg.PoolClient = this.pool): Promise<number | null> {
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO jobs (queue, dedupe_key, payload, run_at, max_attempts, request_id) VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (dedupe_key) DO UPDATE SET status='pending', run_at=EXCLUDED.run_at, attempts=0, payload=EXCLUDED.payload,
              max_attempts=EXCLUDED.max_attempts, last_error=NULL, finished_at=NULL, locked_by=NULL, request_id=EXCLUDED.request_id
        WHERE jobs.status <> 'running' OR jobs.locked_until < $4
       RETURNING id`,
      [queue, opts.dedupeKey, JSON.stringify(payload), opts.runAt, opts.maxAttempts ?? 5, logContext().requestId ?? null],
    );
    return rows[0]?.id ?? null;
  }

  /** Cancels pending jobs whose dedupe key starts with the prefix (e.g. an incident's reminders). */
  async cancel(dedupePrefix: string, db: pg.Pool | pg.PoolClient = this.pool): Promise<number> {
    const r = await db.query(
      `UPDATE jobs SET status='cancelled', finished_at=now() WHERE status='pending' AND dedupe_key LIKE $1`,
      [dedupePrefix.replace(/[%_\\]/g, (m) => `\\${m}`) + '%'],
    );
    return r.rowCount ?? 0;
  }

  /** Claims the next due job, or (with `id`) that one job if it is still pending: the fast path after an ack. */
  private async claim(id?: number): Promise<Job | null> {
    const now = this.clock.now();
    const queues = [...this.handlers.keys()];
    const { rows } = await this.pool.query<{ id: number; queue: string; dedupe_key: string | null; payload: Record<string, unknown>; run_at: Date; attempts: number; request_id: string | null }>(
      `UPDATE jobs j SET status='running', attempts=attempts+1, locked_by=$2,
              locked_until=$1::timestamptz + make_interval(secs => coalesce(($5::jsonb ->> j.queue)::float8, $3::float8))
        WHERE id = (
          SELECT id FROM jobs
           WHERE queue = ANY($4) AND ${id === undefined ? 'run_at <= $1' : 'id = $6'}
             AND (status='pending' OR (status='running' AND locked_until < $1))
           ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING id, queue, dedupe_key, payload, run_at, attempts, request_id`,
      [now, this.workerId, this.claimSeconds, queues, JSON.stringify(Object.fromEntries(queues.map((q) => [q, this.claimFor(q)]))), ...(id === undefined ? [] : [id])],
    );
    const r = rows[0];
    return r ? { id: r.id, queue: r.queue, dedupeKey: r.dedupe_key, payload: r.payload, runAt: r.run_at, attempts: r.attempts, requestId: r.request_id } : null;
  }

  /**
   * Records an attempt's outcome. Guarded by the claim (holder and attempt): when the claim
   * lapsed and the job was retaken or requeued meanwhile, the stale outcome changes nothing.
   */
  private async finish(job: Job, error?: unknown): Promise<void> {
    if (!error) {
      await this.pool.query(
        `UPDATE jobs SET status='done', finished_at=$2, locked_by=NULL WHERE id=$1 AND locked_by=$3 AND attempts=$4 AND status='running'`,
        [job.id, this.clock.now(), this.workerId, job.attempts],
      );
      return;
    }
    const msg = error instanceof Error ? error.message : String(error);
    // Back off 30 s, 1 min, 2 min, ... (or the queue's own policy) before the next attempt; give up at max_attempts.
    const delay = this.options.get(job.queue)?.retryDelayMs?.(job.attempts) ?? 30_000 * 2 ** Math.max(0, job.attempts - 1);
    const retryAt = new Date(this.clock.now().getTime() + delay);
    const r = await this.pool.query(
      `UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
              run_at = $3, last_error = $2, locked_by = NULL,
              finished_at = CASE WHEN attempts >= max_attempts THEN $4::timestamptz END
        WHERE id = $1 AND locked_by = $5 AND attempts = $6 AND status = 'running'`,
      [job.id, msg, retryAt, this.clock.now(), this.workerId, job.attempts],
    );
    if (r.rowCount === 0) this.log.info({ jobId: job.id, queue: job.queue, attempt: job.attempts, err: msg }, 'job attempt failed after its claim was retaken; the new holder decides');
    else this.log.warn({ jobId: job.id, queue: job.queue, attempt: job.attempts, err: msg }, 'job failed');
  }

  /**
   * Records the outcome, retrying while PostgreSQL is away (a restart takes seconds). Before,
   * one failed write left the job `running` until its claim ran out (five minutes by default):
   * a reminder fired minutes late, and a job that had succeeded was failed by the error path
   * and ran again. Gives up after the longer of the claim and a minute: the claim then lapses
   * and the job runs again, as after a crash.
   */
  private async record(job: Job, error?: unknown): Promise<void> {
    const giveUpAt = performance.now() + Math.max(60, this.claimFor(job.queue)) * 1000;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      try {
        return await this.finish(job, error);
      } catch (e) {
        if (performance.now() + wait > giveUpAt) {
          this.log.error({ err: e, jobId: job.id, queue: job.queue }, 'could not record a job outcome; the job runs again when its claim lapses');
          return;
        }
        this.log.warn({ err: e, jobId: job.id, queue: job.queue, retryInMs: wait }, 'could not record a job outcome yet; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /**
   * Claims and runs one due job; false when none is due. While it runs, its claim is renewed
   * so a long job (a backup of a big database) is never taken by a second replica, while a
   * crashed replica's claim still lapses after `claimSeconds`.
   */
  private async runOne(id?: number): Promise<boolean> {
    const job = await this.claim(id);
    if (!job) return false;
    const claimSeconds = this.claimFor(job.queue);
    const renew = setInterval(() => {
      void this.pool
        .query(`UPDATE jobs SET locked_until = $2::timestamptz + make_interval(secs => $3) WHERE id = $1 AND locked_by = $4 AND attempts = $5 AND status = 'running'`, [job.id, this.clock.now(), claimSeconds, this.workerId, job.attempts])
        .catch((e: unknown) => this.log.warn({ err: e, jobId: job.id }, 'could not renew a job claim'));
    }, Math.max(1000, (claimSeconds * 1000) / 3));
    renew.unref();
    const maxRun = this.options.get(job.queue)?.maxRunSeconds ?? DEFAULT_MAX_RUN_SECONDS;
    let ceiling: NodeJS.Timeout | undefined;
    const overrun = new Promise<never>((_, reject) => {
      // Infinity: no ceiling (setTimeout would take it for 1 ms).
      if (!Number.isFinite(maxRun)) return;
      ceiling = setTimeout(() => reject(new JobTimeoutError(job.queue, maxRun)), maxRun * 1000);
      ceiling.unref();
    });
    this.inHandCount++;
    this.log.debug({ jobId: job.id, queue: job.queue, attempt: job.attempts }, 'job claimed');
    let failure: { error: unknown } | undefined;
    try {
      // Run under the enqueuing request's id whether runNow (inside that request) or the poll
      // loop (inside none, or another's) claimed it.
      const handler = this.handlers.get(job.queue)!;
      const work = job.requestId ? withRequestContext({ requestId: job.requestId }, () => handler(job)) : handler(job);
      await Promise.race([work, overrun]);
    } catch (e) {
      if (e instanceof JobTimeoutError) this.log.error({ jobId: job.id, queue: job.queue, maxRunSeconds: maxRun }, 'job ran past its ceiling; its claim is given up and the job retried');
      failure = { error: e ?? new Error('the handler failed without saying why') };
      jobFailures.inc({ queue: job.queue });
    } finally {
      clearTimeout(ceiling);
    }
    try {
      // The claim is renewed until the outcome is written, so nobody retakes finished work.
      await this.record(job, failure?.error);
    } finally {
      this.inHandCount--;
      clearInterval(renew);
    }
    return true;
  }

  /**
   * Runs one job now if nobody has claimed it yet; false when another replica (or the poll
   * loop) got it first. Work people wait on starts at once this way, while the job row still
   * lets any replica finish it after a crash.
   */
  async runNow(id: number): Promise<boolean> {
    if (this.stopped) return false;
    return this.runOne(id);
  }

  /** Runs every due job once, one at a time; returns how many ran. Tests call this directly. */
  async tick(limit = 100): Promise<number> {
    let n = 0;
    while (n < limit && !this.stopped && (await this.runOne())) n++;
    return n;
  }

  /**
   * Polls for due jobs with up to `concurrency` running at once, so one long job (a backup or
   * a drill) never holds up reminders and pages behind it.
   */
  start(intervalMs = 1000, concurrency = 4): void {
    this.stopped = false;
    const worker = () => {
      const p = (async () => {
        while (!this.stopped && (await this.runOne()));
      })()
        .catch((e: unknown) => this.log.error({ err: e }, 'job loop failed'))
        .then(() => {
          this.running.delete(p);
        });
      this.running.add(p);
    };
    this.timer = setInterval(() => {
      if (this.running.size < concurrency) worker();
    }, intervalMs);
    this.timer.unref();
  }

  /** Jobs whose handler is running in this process now, whether the loop or runNow claimed them. */
  get inHand(): number {
    return this.inHandCount;
  }

  /** Stops claiming new jobs and waits for the ones in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.running]);
  }
}
