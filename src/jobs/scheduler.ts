import cron, { type ScheduledTask as CronTask } from 'node-cron';
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Job, JobQueue } from './queue.js';
import { acquireLease, releaseLease } from './lease.js';
import { scheduledSlots, schedulerLeader } from '../ops/metrics.js';

/**
 * Clock-based schedules (node-cron expressions from config): backups, drills, retention.
 * Contract: each slot of each task runs exactly once across all replicas; a dead leader's
 * schedules move to a survivor within a minute; stop() releases the lease.
 */
export interface ScheduledTask {
  /** Unique and stable: `backup:hourly:main`, `dr:monthly`. */
  name: string;
  /** node-cron expression (5 or 6 fields), evaluated in UTC. */
  cron: string;
  /** Runs once per slot across replicas; `slot` is the scheduled time, not the start time. */
  run(slot: Date): Promise<void>;
}

export interface Scheduler {
  add(task: ScheduledTask): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  isLeader(): boolean;
}

/** The job queue every slot goes through; any replica's job loop may run it. */
export const SCHEDULE_QUEUE = 'schedule';
const LEASE_NAME = 'scheduler';
/** Each replica's heartbeat lease: `replica:<replicaId>`, renewed while the process lives. */
const HEARTBEAT_PREFIX = 'replica:';

/** The dedupe key that makes a slot run once however many replicas enqueue it. */
export const slotKey = (task: string, slot: Date): string => `sched:${task}:${slot.toISOString()}`;

export interface LastRun {
  slot: Date;
  status: 'succeeded' | 'failed' | 'pending' | 'running';
  finishedAt: Date | null;
  error: string | null;
}

export interface LeaseSchedulerOptions {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  jobs: JobQueue;
  /** Lease holder id: unique per process. */
  replicaId: string;
  leaseTtlSeconds?: number;
  renewSeconds?: number;
  /** A slot that passed with no leader is run late if at most this old. */
  catchUpSeconds?: number;
  /** Called for each slot that passed without running and is now too old or superseded. */
  onMissed?: (task: string, slot: Date) => void | Promise<void>;
}

interface Registered {
  task: ScheduledTask;
  /** Never started: used only to test whether a time is a slot. */
  matcher: CronTask;
  /** Seconds between candidate slot times: 1 for 6-field expressions, 60 otherwise. */
  step: number;
  firing?: CronTask;
}

/**
 * A lease-backed scheduler. One replica (the holder of the `scheduler` lease) fires the cron
 * schedules; each firing only enqueues a job whose dedupe key is the task and slot, and any
 * replica's job loop runs it. Exactly-once per slot therefore rests on the jobs table's unique
 * key, not on there being one leader: two leaders overlapping for a moment still make one job.
 *
 * Failover: followers try to take the lease every `renewSeconds`; a leader killed with -9
 * stops renewing and its lease expires after `leaseTtlSeconds`. On taking the lease (and on
 * every renewal) the leader enqueues the newest slot of each task if nobody did, so a slot
 * that fell into the gap still runs; older unrun slots are reported through `onMissed`.
 * Every replica also keeps a heartbeat lease; the leader puts jobs claimed by a replica whose
 * heartbeat expired back in the queue, so a slot (or any job) a killed replica was running is
 * rerun by a survivor within about a lease TTL rather than when the job's claim runs out.
 */
export class LeaseScheduler implements Scheduler {
  private tasks = new Map<string, Registered>();
  private leader = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  private lastRenewedAt = 0;
  /** First-seen times of tasks, once read (they never change). */
  private seen = new Map<string, number>();
  /** Missed slots already reported, so a long gap is reported once, not on every renewal. */
  private reportedMissed = new Set<string>();
  private readonly ttl: number;
  private readonly renewEvery: number;
  private readonly catchUp: number;

  constructor(private opts: LeaseSchedulerOptions) {
    this.ttl = opts.leaseTtlSeconds ?? 30;
    this.renewEvery = opts.renewSeconds ?? 10;
    this.catchUp = opts.catchUpSeconds ?? 3600;
    // No run-time ceiling: scheduled backups, drills and PITR backups may rightly take hours.
    opts.jobs.handle(SCHEDULE_QUEUE, (job) => this.runSlot(job), { maxRunSeconds: Infinity });
  }

  add(task: ScheduledTask): void {
    if (this.tasks.has(task.name)) throw new Error(`scheduled task ${task.name} is already registered`);
    if (!cron.validate(task.cron)) throw new Error(`scheduled task ${task.name}: "${task.cron}" is not a valid cron expression`);
    const matcher = cron.createTask(task.cron, () => {}, { timezone: 'UTC', name: `match:${task.name}` });
    const step = task.cron.trim().split(/\s+/).length === 6 ? 1 : 60;
    const reg: Registered = { task, matcher, step };
    this.tasks.set(task.name, reg);
    if (this.leader) this.fire(reg);
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Started and not stopped since: a configuration reload starts the new scheduler only then. */
  get started(): boolean {
    return !this.stopped;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.heartbeat();
    await this.renew();
    this.timer = setInterval(() => void this.renew(), this.renewEvery * 1000);
    this.timer.unref();
    // The heartbeat outlives stop(): jobs this replica still runs while draining must not be
    // handed to another replica. It ends with the process (or when the pool is closed).
    this.heartbeatTimer ??= setInterval(() => void this.heartbeat(), this.renewEvery * 1000);
    this.heartbeatTimer.unref();
  }

  /**
   * Ends the heartbeat that stop() leaves running: for a scheduler replaced by another one in
   * the same process (a configuration reload), whose own heartbeat now says the replica is alive.
   */
  stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Says "this replica is alive" so the leader knows which job claims are orphaned. */
  private async heartbeat(): Promise<void> {
    const { pool, clock, replicaId } = this.opts;
    if ((pool as { ending?: boolean }).ending) {
      clearInterval(this.heartbeatTimer);
      return;
    }
    await acquireLease(pool, clock, HEARTBEAT_PREFIX + replicaId, replicaId, this.ttl).catch(() => {
      // The leader renewal logs database trouble; a missed heartbeat only delays nothing here.
    });
  }

  /**
   * Puts jobs claimed by replicas whose heartbeat expired (killed, or gone for a whole lease
   * TTL) back in the queue, so a survivor runs them now instead of when their claim runs out
   * (minutes). Returns how many. The leader calls it on every renewal.
   */
  async requeueOrphanedJobs(): Promise<number> {
    const { pool, clock, log } = this.opts;
    const now = clock.now();
    const { rows } = await pool.query<{ id: number; queue: string; holder: string }>(
      `WITH dead AS (
         SELECT substr(name, length($2) + 1) AS holder FROM leases WHERE name LIKE $2 || '%' AND expires_at < $1),
       orphans AS (
         SELECT j.id, j.locked_by AS holder FROM jobs j JOIN dead d ON d.holder = j.locked_by
          WHERE j.status = 'running' FOR UPDATE OF j SKIP LOCKED)
       UPDATE jobs SET status = 'pending', run_at = $1, locked_by = NULL, locked_until = NULL,
              last_error = 'replica ' || orphans.holder || ' stopped while running this job; retried on another replica'
         FROM orphans WHERE jobs.id = orphans.id
       RETURNING jobs.id, jobs.queue, orphans.holder`,
      [now, HEARTBEAT_PREFIX],
    );
    for (const r of rows) log.warn({ action: 'jobs.requeued', jobId: r.id, queue: r.queue, deadReplica: r.holder }, 'requeued a job whose replica died while running it');
    // Heartbeats of replicas gone for a day are history.
    await pool.query(`DELETE FROM leases WHERE name LIKE $1 || '%' AND expires_at < $2`, [HEARTBEAT_PREFIX, new Date(now.getTime() - 86_400_000)]);
    return rows.length;
  }

  /** Stops firing and hands the lease back so another replica can lead at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewal;
    const wasLeader = this.leader;
    this.loseLeadership();
    for (const reg of this.tasks.values()) await reg.matcher.destroy();
    if (wasLeader) {
      await releaseLease(this.opts.pool, LEASE_NAME, this.opts.replicaId).catch((err: unknown) =>
        this.opts.log.warn({ err, action: 'scheduler.release' }, 'could not release the scheduler lease; it expires on its own'),
      );
    }
  }

  /** The newest finished or started run of a task, from the jobs table (any replica's). */
  async lastRun(name: string): Promise<LastRun | null> {
    const { rows } = await this.opts.pool.query<{ slot: Date; status: string; finished_at: Date | null; last_error: string | null }>(
      `SELECT (payload->>'slot')::timestamptz AS slot, status, finished_at, last_error FROM jobs
        WHERE queue = $1 AND payload->>'task' = $2 AND status <> 'cancelled'
        ORDER BY (payload->>'slot')::timestamptz DESC LIMIT 1`,
      [SCHEDULE_QUEUE, name],
    );
    const r = rows[0];
    if (!r) return null;
    const status = r.status === 'done' ? 'succeeded' : (r.status as LastRun['status']);
    return { slot: r.slot, status, finishedAt: r.finished_at, error: r.last_error };
  }

  /**
   * One renewal round now: take or renew the lease and, when leading, enqueue due slots. The
   * timer calls it every `renewSeconds`; tests call it after moving a FakeClock.
   */
  async renewNow(): Promise<void> {
    await this.heartbeat();
    await this.renew();
  }

  /** Takes or renews the lease; serialised so a slow database cannot stack renewals. */
  private renew(): Promise<void> {
    if (this.renewal) return this.renewal;
    this.renewal = this.renewOnce().finally(() => {
      this.renewal = undefined;
    });
    return this.renewal;
  }

  private async renewOnce(): Promise<void> {
    const { pool, clock, log, replicaId } = this.opts;
    if (this.stopped) return;
    try {
      const held = await acquireLease(pool, clock, LEASE_NAME, replicaId, this.ttl);
      if (this.stopped) return;
      if (held) {
        this.lastRenewedAt = clock.now().getTime();
        if (!this.leader) {
          this.leader = true;
          schedulerLeader.set(1);
          log.info({ action: 'scheduler.lead', replicaId }, 'this replica now runs the schedules');
          for (const reg of this.tasks.values()) this.fire(reg);
        }
        await this.requeueOrphanedJobs();
        await this.enqueueDueSlots();
      } else if (this.leader) {
        log.warn({ action: 'scheduler.lost', replicaId }, 'another replica took the scheduler lease');
        this.loseLeadership();
      }
    } catch (err) {
      // Without the database we cannot prove we still hold the lease: stop firing once it may
      // have lapsed. (A duplicate firing would still be absorbed by the slot's dedupe key.)
      log.warn({ err, action: 'scheduler.renew' }, 'scheduler lease renewal failed');
      if (this.leader && clock.now().getTime() - this.lastRenewedAt > (this.ttl - this.renewEvery / 2) * 1000) this.loseLeadership();
    }
  }

  private fire(reg: Registered): void {
    reg.firing = cron.schedule(
      reg.task.cron,
      (c) => {
        const slot = new Date(Math.floor(c.date.getTime() / 1000) * 1000);
        void this.enqueueSlot(reg.task.name, slot).catch((err: unknown) =>
          this.opts.log.error({ err, task: reg.task.name, action: 'scheduler.enqueue' }, 'could not enqueue a scheduled slot; the next renewal retries'),
        );
      },
      { timezone: 'UTC', name: `fire:${reg.task.name}`, suppressMissedWarning: true },
    );
  }

  private loseLeadership(): void {
    if (this.leader) schedulerLeader.set(0);
    this.leader = false;
    for (const reg of this.tasks.values()) {
      void reg.firing?.destroy();
      reg.firing = undefined;
    }
  }

  /** True when the job was created; false when another replica (or firing) already did. */
  private async enqueueSlot(task: string, slot: Date): Promise<boolean> {
    const id = await this.opts.jobs.enqueue(
      SCHEDULE_QUEUE,
      { task, slot: slot.toISOString() },
      { runAt: slot, dedupeKey: slotKey(task, slot), maxAttempts: 3 },
    );
    scheduledSlots.inc({ task, outcome: id === null ? 'duplicate' : 'enqueued' });
    return id !== null;
  }

  /** When `task` was first seen, recorded now if never before (the earliest replica's time wins). */
  private async firstSeen(task: string, now: number): Promise<number> {
    const known = this.seen.get(task);
    if (known !== undefined) return known;
    const at = await recordScheduledTask(this.opts.pool, task, new Date(now));
    this.seen.set(task, at.getTime());
    return at.getTime();
  }

  /** Slots of `reg` in (after, until], newest last; at most `limit` of the newest. */
  private slotsBetween(reg: Registered, after: number, until: number, limit = 1000): Date[] {
    const out: Date[] = [];
    const stepMs = reg.step * 1000;
    for (let t = Math.floor(until / stepMs) * stepMs; t > after && out.length < limit; t -= stepMs) {
      const d = new Date(t);
      if (reg.matcher.match(d)) out.push(d);
    }
    return out.reverse();
  }

  /**
   * Makes sure the newest slot of every task that is due (and not older than catchUpSeconds)
   * has a job, and reports the slots between the task's last run and that one as missed.
   * The leader calls it on every renewal; tests call it after moving a FakeClock.
   */
  async enqueueDueSlots(): Promise<void> {
    const now = this.opts.clock.now().getTime();
    for (const reg of this.tasks.values()) {
      const name = reg.task.name;
      const { rows } = await this.opts.pool.query<{ last: Date | null }>(
        // The slot, not run_at: a failed attempt moves run_at to its retry time.
        `SELECT max((payload->>'slot')::timestamptz) AS last FROM jobs WHERE queue = $1 AND payload->>'task' = $2`,
        [SCHEDULE_QUEUE, name],
      );
      const last = rows[0]?.last?.getTime() ?? null;
      // A task that never ran catches up nothing from before it existed (a fresh install must
      // not start with a backup or a drill nobody asked for).
      const since = last ?? (await this.firstSeen(name, now)) - 1;
      const windowStart = Math.max(since, now - this.catchUp * 1000);
      const due = this.slotsBetween(reg, windowStart, now);
      const newest = due.pop();
      if (newest && (await this.enqueueSlot(name, newest))) {
        this.opts.log.info({ action: 'scheduler.catch_up', task: name, slot: newest.toISOString() }, 'enqueued a slot that had no job yet');
      }
      if (last === null) continue; // a task that never ran has no history to have missed
      const missed = [...this.slotsBetween(reg, last, windowStart, 100), ...due];
      for (const slot of missed) {
        const key = slotKey(name, slot);
        if (this.reportedMissed.has(key)) continue;
        this.reportedMissed.add(key);
        if (this.reportedMissed.size > 10_000) this.reportedMissed.clear();
        scheduledSlots.inc({ task: name, outcome: 'missed' });
        this.opts.log.warn({ action: 'scheduler.missed', task: name, slot: slot.toISOString() }, 'a scheduled slot passed without running');
        await Promise.resolve(this.opts.onMissed?.(name, slot)).catch((err: unknown) =>
          this.opts.log.error({ err, task: name }, 'onMissed callback failed'),
        );
      }
    }
  }

  private async runSlot(job: Job): Promise<void> {
    const name = String(job.payload.task);
    const reg = this.tasks.get(name);
    // A replica on another version may not know the task: failing lets a replica that does retry it.
    if (!reg) throw new Error(`scheduled task ${name} is not registered on this replica`);
    const slot = new Date(String(job.payload.slot));
    try {
      await reg.task.run(slot);
      scheduledSlots.inc({ task: name, outcome: 'succeeded' });
    } catch (err) {
      scheduledSlots.inc({ task: name, outcome: 'failed' });
      throw err;
    }
  }
}

/** Records that a scheduled task exists, once; returns when it was first seen. */
export async function recordScheduledTask(pool: pg.Pool, task: string, at: Date): Promise<Date> {
  const { rows } = await pool.query<{ first_seen_at: Date }>(
    `INSERT INTO scheduled_tasks (name, first_seen_at) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET first_seen_at = least(scheduled_tasks.first_seen_at, excluded.first_seen_at)
     RETURNING first_seen_at`,
    [task, at],
  );
  return rows[0]!.first_seen_at;
}

/**
 * When the earliest of the tasks named `<prefix>...<suffix>` was first seen by a scheduler, or
 * undefined when none has been: "the schedule has existed since".
 */
export async function scheduleExistsSince(pool: pg.Pool, prefix: string, suffix = ''): Promise<Date | undefined> {
  const { rows } = await pool.query<{ at: Date | null }>(
    `SELECT min(first_seen_at) AS at FROM scheduled_tasks
      WHERE starts_with(name, $1) AND right(name, length($2)) = $2 AND length(name) >= length($1) + length($2)`,
    [prefix, suffix],
  );
  return rows[0]?.at ?? undefined;
}
