import type { Logger } from '../log.js';

/**
 * Work that continues after Slack has been answered. Tracked so graceful shutdown can wait
 * for it and tests can await it instead of sleeping.
 */
export class Background {
  private tasks = new Set<Promise<void>>();
  constructor(private log: Logger) {}

  run(label: string, work: () => Promise<void>): void {
    // Start on the next turn of the event loop, not as a microtask: requests already waiting
    // (other Slack acks, each with a 3 s deadline) get their turn before this work begins.
    const p: Promise<void> = new Promise<void>((r) => setImmediate(r))
      .then(work)
      .catch((err: unknown) => this.log.error({ err, task: label }, 'background task failed'))
      .finally(() => this.tasks.delete(p));
    this.tasks.add(p);
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Waits until nothing is running, including work started by work; false if the budget ran out. */
  async drain(budgetMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + budgetMs;
    while (this.tasks.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await Promise.race([Promise.all([...this.tasks]), new Promise((r) => setTimeout(r, left).unref())]);
    }
    return true;
  }
}

/**
 * At most `limit` holders at once; the rest wait in order. Used to keep bursts of heavy
 * background work (a storm of declares, each making a dozen Slack calls) from starving the
 * acknowledgements Slack waits for on the same event loop.
 */
export class Semaphore {
  private active = 0;
  private waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
