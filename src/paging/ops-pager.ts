import type { Clock } from '../clock.js';
import type { JobQueue } from '../jobs/queue.js';
import type { PdSeverity } from './model.js';
import { DEFAULT_SERVICE, type RoutingKey } from './routing.js';

/** Pages about Firebreak's own failures, delivered by PagingService.runOpsJob. */
export const OPS_QUEUE = 'paging.ops';

export interface OpsPage {
  dedupKey: string;
  summary: string;
  severity: PdSeverity;
  details?: Record<string, unknown>;
}

/**
 * Asks for a page about an operational failure (a failed backup, an alert group nobody
 * acknowledged). It only queues a job, so areas built before the paging service (alerts,
 * backups, PITR) are handed this rather than the service itself.
 */
export class OpsPager {
  constructor(private readonly deps: { jobs: Pick<JobQueue, 'enqueue'>; clock: Clock; routingKeys: Map<string, RoutingKey> }) {}

  /** False when `service` has no routing key here: nothing is queued. */
  async pageOps(page: OpsPage, service = DEFAULT_SERVICE): Promise<boolean> {
    if (!this.deps.routingKeys.has(service)) return false;
    const now = this.deps.clock.now();
    await this.deps.jobs.enqueue(OPS_QUEUE, { ...page, service, at: now.toISOString() }, { runAt: now });
    return true;
  }
}
