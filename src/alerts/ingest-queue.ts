import type { IncomingAlert } from './model.js';
import type { IngestResult } from './store.js';

interface Waiting {
  alerts: IncomingAlert[];
  resolve(r: IngestResult): void;
  reject(e: unknown): void;
}

/**
 * Group commit for webhooks: requests that arrive while a write is in flight share the next
 * INSERT and its commit, so a burst costs a few transactions instead of one per request. Each
 * caller still waits for the commit that holds its alerts before it answers 2xx.
 */
export class IngestQueue {
  private waiting: Waiting[] = [];
  private inflight = 0;

  constructor(
    private write: (requests: IncomingAlert[][]) => Promise<IngestResult[]>,
    private maxParallel = 2,
    private maxAlertsPerWrite = 5000,
  ) {}

  submit(alerts: IncomingAlert[]): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ alerts, resolve, reject });
      this.drain();
    });
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
      this.write(batch.map((w) => w.alerts))
        .then((results) => batch.forEach((w, i) => w.resolve(results[i]!)))
        .catch((e: unknown) => batch.forEach((w) => w.reject(e)))
        .finally(() => {
          this.inflight--;
          this.drain();
        });
    }
  }
}
