/** Thrown into long work whose shutdown budget ran out: record the work as interrupted, never as good. */
export class ShutdownInterruption extends Error {
  constructor(reason: string) {
    super(`stopped by graceful shutdown: ${reason}`);
    this.name = 'ShutdownInterruption';
  }
}

/**
 * The process's place in its life: serving, draining (readiness says 503, in-flight work
 * finishes) and, when the budget runs out, stopping long work through `signal`.
 */
export class Lifecycle {
  private drainingSince: Date | null = null;
  private controller = new AbortController();

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** Aborted when long work (backups, drills, restores) must stop now and record itself interrupted. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  beginDrain(at = new Date()): void {
    this.drainingSince ??= at;
  }

  stopLongWork(reason: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new ShutdownInterruption(reason));
  }
}
