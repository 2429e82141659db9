import { isDataError } from '../db/pool.js';
import type { IncomingAlert } from './model.js';
import type { IngestResult } from './store.js';

/** The store refused these alerts for what they are, so sending them again cannot help. */
export class RejectedAlerts extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectedAlerts';
  }
}

interface Waiting {
  alerts: IncomingAlert[];
  resolve(r: IngestResult): void;
  reject(e: unknown): void;
}

/**
 * Group commit for webhooks: requests that arrive while a write is in flight share the next
 * INSERT and its commit, so a burst costs a few transactions instead of one per request. Each
 * caller still waits for the commit that holds its alerts before it answers 2xx. When a shared
 * write fails, its requests are written again one by one,
 * so a single request the database refuses fails alone and its neighbours are stored.
 */
export class IngestQueue {
  private waiting: Waiting[] = [];
  private inflight = 0;
  /** performance.now() of the last submit or finished write: how long intake has been quiet. */
  private lastActivity = 0;

  constructor(
    private write: (requests: IncomingAlert[][]) => Promise<IngestResult[]>,
    private maxParallel = 2,
    private maxAlertsPerWrite = 5000,
  ) {}

  submit(alerts: IncomingAlert[]): Promise<IngestResult> {
    this.lastActivity = performance.now();
    return new Promise((resolve, reject) => {
      this.waiting.push({ alerts, resolve, reject });
      this.scheduleDrain();
    });
  }

  /**
   * Starts writes after the current turn of the event loop, not inside submit: every request
   * whose body arrived in the same turn then shares one write, where the first of them would
   * otherwise take a free slot alone (with single-alert webhooks that halved the alerts per
   * commit). setImmediate runs right after the I/O that delivered them, so nobody waits on a timer.
   */
  private drainScheduled = false;
  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /** Whether a write is in flight or waiting, or one finished less than `quietMs` ago. */
  busy(quietMs = 0): boolean {
    return this.inflight > 0 || this.waiting.length > 0 || performance.now() - this.lastActivity < quietMs;
  }

  private drain(): void {
    while (this.inflight < this.maxParallel && this.waiting.length > 0) {
      const batch: Waiting[] = [];
      let size = 0;
      while (this.waiting.length > 0 && (batch.length === 0 || size + this.waiting[0]!.alerts.length <= this.maxAlertsPerWrite)) {
        const w = this.waiting.shift()!;
        size += w.alerts.length;
        batch.push(w);
      }
      this.inflight++;
      this.writeBatch(batch).finally(() => {
        this.inflight--;
        this.lastActivity = performance.now();
        this.drain();
      });
    }
  }

  private async writeBatch(batch: Waiting[]): Promise<void> {
    try {
      const results = await this.write(batch.map((w) => w.alerts));
      batch.forEach((w, i) => w.resolve(results[i]!));
      return;
    } catch (e) {
      if (batch.length === 1) return settleFailed(batch, e);
    }
    for (const w of batch) {
      try {
        w.resolve((await this.write([w.alerts]))[0]!);
      } catch (e) {
        settleFailed([w], e);
      }
    }
  }
}

function settleFailed(batch: Waiting[], e: unknown): void {
  const err = !isDataError(e) ? e : new RejectedAlerts(`the database refused these alerts: ${(e as Error).message}`);
  for (const w of batch) w.reject(err);
}
