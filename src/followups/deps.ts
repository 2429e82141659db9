import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { JobQueue } from '../jobs/queue.js';
import type { FollowupsConfig } from './config.js';
import type { TrackerKind } from './model.js';
import type { Tracker } from './tracker.js';
import type { FollowupMessages } from './messages.js';

/** What follow-ups need to know about an incident: handed in by the composition root. */
export interface FollowupIncident {
  id: number;
  title: string;
  severity: string;
  channelId: string | null;
}

export interface FollowupIncidents {
  get(id: number): Promise<FollowupIncident | undefined>;
}

/** What every follow-up flow is built from. */
export interface FollowupDeps {
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly log: Logger;
  readonly jobs: JobQueue;
  readonly config: FollowupsConfig;
  readonly incidents: FollowupIncidents;
  /** The configured tracker (at most one), by kind. */
  readonly trackers: Partial<Record<TrackerKind, Tracker>>;
  readonly messages: FollowupMessages;
}

/** The durable export job: one per follow-up (dedupe key), retried with back-off, rearmed by the poll when it gave up. */
export const EXPORT_QUEUE = 'followups.export';
export const EXPORT_ATTEMPTS = 5;
export const exportKey = (id: number): string => `${EXPORT_QUEUE}:${id}`;
