interface Waiting<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

/**
 * Group commit: items submitted while a write is in flight share the next write and its
 * commit, so a burst costs a few statements instead of one per item, and no caller waits in a
 * connection pool queue behind other work. Each caller still waits for the commit that holds
 * its item. (src/alerts/ingest-queue.ts does the same for alert webhooks.)
 */
export class GroupCommit<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private inflight = 0;

  constructor(
    private write: (items: T[]) => Promise<R[]>,
    private maxParallel = 2,
    private maxPerWrite = 500,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inflight < this.maxParallel && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxPerWrite);
      this.inflight++;
      this.write(batch.map((w) => w.item))
        .then((results) => batch.forEach((w, i) => w.resolve(results[i]!)))
        .catch((e: unknown) => batch.forEach((w) => w.reject(e)))
        .finally(() => {
          this.inflight--;
          this.drain();
        });
    }
  }
}
