/**
 * Clock-based schedules (node-cron expressions from config): backups, drills, retention.
 * Interface fixed by the lead; implementation owned by the ops area (issue 10).
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
