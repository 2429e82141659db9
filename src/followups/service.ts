import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { JobQueue } from '../jobs/queue.js';
import type { ChatSurface } from '../chat/surface.js';
import type { Job } from '../jobs/queue.js';
import { incidentEvents, type StoredEvent } from '../events/log.js';
import type { FollowupsConfig } from './config.js';
import { followupRef, isOverdue, type Followup, type TrackerKind } from './model.js';
import * as store from './store.js';
import type { FollowupDeps, FollowupIncidents } from './deps.js';
import { FollowupMessages } from './messages.js';
import type { Tracker } from './tracker.js';
import { GitHubTracker } from './github.js';
import { JiraTracker } from './jira.js';
import { recordFollowup, type RecordInput } from './record-followup.js';
import { followupsFromNotes } from './from-notes.js';
import { exportFollowup } from './export-followup.js';
import { applyTrackerState, pollTrackers, type IssueState, type StateOutcome } from './tracker-state.js';
import { markDone, type CloseOutcome } from './close-followup.js';
import type { PostmortemAction } from '../templates/postmortem.js';

export { EXPORT_QUEUE } from './deps.js';
export type { FollowupIncident, FollowupIncidents } from './deps.js';

/** The tracker `followups.tracker` names (the schema made sure it has what it needs), or none. */
export function trackersFromConfig(cfg: FollowupsConfig, doFetch: typeof fetch = fetch): Partial<Record<TrackerKind, Tracker>> {
  const g = cfg.github;
  const j = cfg.jira;
  if (cfg.tracker === 'github' && g.owner && g.repo && g.token) return { github: new GitHubTracker({ ...g, owner: g.owner, repo: g.repo, token: g.token }, cfg.markerPrefix, doFetch) };
  if (cfg.tracker === 'jira' && j.site && j.email && j.projectKey && j.apiToken) {
    return { jira: new JiraTracker({ ...j, site: j.site, email: j.email, projectKey: j.projectKey, apiToken: j.apiToken }, cfg.markerPrefix, doFetch) };
  }
  return {};
}

export interface FollowupPlatform {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  jobs: JobQueue;
  chat: ChatSurface;
  config: { followups: FollowupsConfig };
  publicUrl: string;
}

/**
 * The follow-ups area as the rest of the app sees it: queries, and one entry per use case
 * (record-followup.ts, from-notes.ts, export-followup.ts, tracker-state.ts, close-followup.ts).
 * Free of Slack and HTTP: commands, buttons and webhooks at the edge call these.
 */
export class FollowupService {
  readonly deps: FollowupDeps;

  constructor(p: FollowupPlatform, incidents: FollowupIncidents, trackers = trackersFromConfig(p.config.followups)) {
    const config = p.config.followups;
    this.deps = {
      pool: p.pool, clock: p.clock, log: p.log, jobs: p.jobs, config, incidents, trackers,
      messages: new FollowupMessages(p.chat, p.log, config, p.publicUrl),
    };
  }

  get messages(): FollowupMessages {
    return this.deps.messages;
  }

  get(id: number): Promise<Followup | undefined> {
    return store.getFollowup(this.deps.pool, id);
  }

  listForIncident(incidentId: number): Promise<Followup[]> {
    return store.listForIncident(this.deps.pool, incidentId);
  }

  listMine(userId: string): Promise<Followup[]> {
    return store.listOpenByOwner(this.deps.pool, userId);
  }

  listOpen(): Promise<Followup[]> {
    return store.listOpen(this.deps.pool);
  }

  listOverdue(now: Date): Promise<Followup[]> {
    return store.listOverdue(this.deps.pool, now);
  }

  /** A follow-up from a person (command, button): once per chat request. */
  record(input: RecordInput): Promise<{ followup: Followup; created: boolean }> {
    return recordFollowup(this.deps, input);
  }

  /** Catches the incident's `action:` notes up into follow-ups (once per note). */
  async fromNotes(incidentId: number, source: 'note' | 'postmortem' = 'note'): Promise<Awaited<ReturnType<typeof followupsFromNotes>>> {
    return followupsFromNotes(this.deps, incidentId, await incidentEvents(this.deps.pool, incidentId), source);
  }

  /**
   * The post-mortem's action list: its action notes become follow-ups (once), and every
   * follow-up of the incident is listed with its live status and tracker link.
   */
  async forPostmortem(incidentId: number, events: StoredEvent[]): Promise<PostmortemAction[]> {
    await followupsFromNotes(this.deps, incidentId, events, 'postmortem');
    const now = this.deps.clock.now();
    return (await this.listForIncident(incidentId)).map((f) => ({
      ref: followupRef(f.id), title: f.title, ownerUserId: f.ownerUserId, ownerLabel: f.ownerLabel, due: f.dueOn,
      status: f.status, overdue: isOverdue(f, now), sourceEventId: f.sourceEventId,
      ...(f.trackerKey && f.exportState === 'exported' ? { tracker: { key: f.trackerKey, url: f.trackerUrl ?? '' } } : {}),
    }));
  }

  markDone(id: number, actor: string, mayAct: (incidentId: number, userId: string) => Promise<boolean>): Promise<CloseOutcome> {
    return markDone(this.deps, id, actor, mayAct);
  }

  /** Job handler: one export attempt (export-followup.ts). */
  runExportJob(job: Job): Promise<void> {
    return exportFollowup(this.deps, job);
  }

  /** A webhook's word on an issue's state. */
  trackerState(tracker: TrackerKind, key: string, state: IssueState): Promise<StateOutcome> {
    return applyTrackerState(this.deps, tracker, key, state, 'webhook');
  }

  /** The periodic read-back and export retry (tracker-state.ts). */
  poll(): Promise<{ closed: number; rearmed: number; errors: number }> {
    return pollTrackers(this.deps);
  }

  get trackerKind(): TrackerKind | undefined {
    return this.deps.config.tracker === 'none' ? undefined : this.deps.config.tracker;
  }
}
