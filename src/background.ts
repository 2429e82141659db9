import type { Logger } from './log.js';

/**
 * Work that continues after Slack has been answered. Tracked so graceful shutdown can wait
 * for it and tests can await it instead of sleeping.
 */
export class Background {
  private tasks = new Set<Promise<void>>();
  constructor(private log: Logger) {}

  run(label: string, work: () => Promise<void>): void {
    const p: Promise<void> = Promise.resolve()
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
