import { Semaphore } from '../jobs/background.js';
import { mention } from '../templates/format.js';
import type { AppContext } from '../context.js';
import type { Severity } from './config.js';
import type { Incident, IncidentRole, IncidentStatus } from './model.js';
import type { ChatMessage, PostedMessage } from '../chat/surface.js';
import { appendEvent, incidentEvents } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import type { ReplyAddress } from '../chat/interactions.js';
import { runSetupJob, setUpWarRoom, SETUP_QUEUE, setupKey, SETUP_ATTEMPTS, type SetupJob, type WarRoomResult } from './setup.js';
import * as store from './store.js';
import { runReminder } from './reminders.js';
import { timelineEntries, type TimelineEntry } from './timeline.js';
import type { Job } from '../jobs/queue.js';
import type { HeadlineExtras } from '../templates/incidents.js';
import type { CommsKind, CommsTemplates } from '../templates/comms.js';
import { IncidentMessages } from './messages.js';
import { markAcknowledged, type ChangeOutcome, type IncidentFlowDeps } from './change.js';
import { declareIncident, type DeclareInput, type DeclareOutcome } from './declare.js';
import { resolveIncident } from './resolve.js';
import { reopenIncident } from './reopen.js';
import { addNote, postUpdate } from './post-update.js';
import { changeStatus } from './change-status.js';
import { changeSeverity } from './change-severity.js';
import { assignRole } from './assign-role.js';
import { writePostmortem } from './write-postmortem.js';
import type { PostmortemActions } from './postmortem-actions.js';
import { recordPin, type PinInput } from './record-pin.js';

export type { ChangeOutcome } from './change.js';
export type { DeclareInput, DeclareOutcome } from './declare.js';
export type { WarRoomResult } from './setup.js';

/**
 * The incidents area as the rest of the app sees it: queries, and one entry per use case.
 * Each use case is a flow of its own (declare.ts, resolve.ts, change-severity.ts, ...) that
 * reads top to bottom; what they post is in messages.ts, their SQL in store.ts.
 * Surface-neutral: talks to people only through ctx.chat.
 */
export class IncidentService implements IncidentFlowDeps {
  /** War rooms opened at once; a burst of declares queues behind these (each is ~10 Slack calls). */
  private readonly warRooms = new Semaphore(8);
  readonly messages: IncidentMessages;

  constructor(
    readonly ctx: AppContext,
    /** Whether PagerDuty routing keys are configured: the headline says whether declares page. */
    paging: { enabled: boolean },
    /** The post-mortem's live action list (src/followups); without it, action notes are listed as written. */
    readonly postmortemActions?: PostmortemActions,
  ) {
    this.messages = new IncidentMessages(ctx, paging);
  }

  /** The team's comms templates, read once at start; `firebreak config check` reports broken files. */
  get comms(): CommsTemplates {
    return this.messages.comms;
  }

  get(id: number): Promise<Incident | undefined> {
    return store.getIncident(this.ctx.pool, id);
  }

  byChannel(channelId: string): Promise<Incident | undefined> {
    return store.incidentByChannel(this.ctx.pool, channelId);
  }

  open(): Promise<Incident[]> {
    return store.openIncidents(this.ctx.pool);
  }

  /** See declare.ts: the incident and its setup job are recorded at once; the war room opens in the background. */
  declare(input: DeclareInput): Promise<DeclareOutcome> {
    return declareIncident(this.ctx, this.warRooms, input);
  }

  /** Job handler: one attempt at the incident's war-room setup (src/incidents/setup.ts). */
  async runSetup(job: Job): Promise<void> {
    await runSetupJob(this, job);
  }

  /**
   * `/incident setup`: runs the same steps as the declare, now, and answers `notify`. Steps
   * already done are skipped and started ones look for what they made, so it never
   * duplicates. Null while the setup is running on some replica.
   */
  async repairWarRoom(id: number, notify?: ReplyAddress): Promise<'started' | 'running'> {
    const payload: SetupJob = { incidentId: id, notify, requested: true };
    const jobId = await this.ctx.jobs.rearm(SETUP_QUEUE, { ...payload }, { runAt: this.ctx.clock.now(), dedupeKey: setupKey(id), maxAttempts: SETUP_ATTEMPTS });
    if (jobId === null) return 'running';
    return (await this.ctx.jobs.runNow(jobId)) ? 'started' : 'running';
  }

  /** Runs the setup steps once, outside the job queue (tests, the console). */
  openWarRoom(incidentId: number): Promise<WarRoomResult> {
    return setUpWarRoom(this, incidentId);
  }

  /**
   * Marks the first response (a person acting on the incident, or a PagerDuty ack). Only
   * the first call sets acknowledged_at, so MTTA measures the first response, not the last.
   */
  async acknowledge(incidentId: number, actor: string, source: string, at?: Date): Promise<Incident | undefined> {
    const { incident, acked } = await markAcknowledged(this.ctx, incidentId, actor, source, at ?? this.ctx.clock.now());
    if (acked && incident) await this.messages.refreshHeadlineQuietly(incident);
    return incident;
  }

  /**
   * Appends an entry to the incident's timeline from another area (pages, escalations,
   * alerts attached). `kind` is the event type; `payload.text`, when present, is the line
   * the timeline and post-mortem show.
   */
  async recordTimeline(incidentId: number, kind: string, actor: string, payload: Record<string, unknown>): Promise<void> {
    await appendEvent(this.ctx.pool, { type: kind, actor, at: this.ctx.clock.now(), incidentId, payload });
  }

  /** Records a PagerDuty event on the timeline unless it is there already; false when it was (a re-run or a re-delivery). */
  async recordPagerDutyEventOnce(incidentId: number, kind: string, actor: string, payload: Record<string, unknown> & { pdEventId: string }): Promise<boolean> {
    return withTransaction(this.ctx.pool, async (tx) => {
      await store.lockIncident(tx, incidentId);
      if (await store.hasEventMarked(tx, incidentId, 'pdEventId', payload.pdEventId)) return false;
      await appendEvent(tx, { type: kind, actor, at: this.ctx.clock.now(), incidentId, payload });
      return true;
    });
  }

  /** Posts in the incident's channel; where it went, so a message that reflects state can be edited later. */
  postToIncident(incidentId: number, message: ChatMessage): Promise<PostedMessage | undefined> {
    return this.messages.postToIncident(incidentId, message);
  }

  refreshHeadlineQuietly(i: Incident): Promise<void> {
    return this.messages.refreshHeadlineQuietly(i);
  }

  headlineExtras(i: Incident): HeadlineExtras {
    return this.messages.headlineExtras(i);
  }

  refreshHeadline(i: Incident): Promise<void> {
    return this.messages.refreshHeadline(i);
  }

  invite(i: Incident, severity: Severity = i.severity): Promise<string[]> {
    return this.messages.invite(i, severity);
  }

  /** Whether the person commands an incident that is not resolved. */
  commandsOpenIncident(userId: string): Promise<boolean> {
    return store.commandsOpenIncident(this.ctx.pool, userId);
  }

  async wasAnnounced(i: Incident): Promise<boolean> {
    return store.hasEventOfType(this.ctx.pool, i.id, 'incident.announced');
  }

  commsExtras(i: Incident, update?: string): { update?: string; nextUpdate?: string } {
    return this.messages.commsExtras(i, update);
  }

  draft(kind: CommsKind, i: Incident, update?: string): string {
    return this.messages.draft(kind, i, update);
  }

  editableDraft(kind: CommsKind, i: Incident, update?: string): Promise<string> {
    return this.messages.editableDraft(kind, i, update);
  }

  announceTargets(severity: Severity): Promise<string[]> {
    return this.messages.announceTargets(severity);
  }

  /** Whether this request already changed the incident (a re-run of a job whose replica died). */
  async madeChange(id: number, requestKey: string): Promise<boolean> {
    return !!(await store.eventMarked(this.ctx.pool, id, 'requestKey', requestKey));
  }

  // ---- Lifecycle: each is a flow of its own; every change is one transaction, then chat ----

  postUpdate(id: number, actor: string, text: string, requestKey?: string): Promise<ChangeOutcome> {
    return postUpdate(this, id, actor, text, requestKey);
  }

  setStatus(id: number, actor: string, status: IncidentStatus, requestKey?: string): Promise<ChangeOutcome> {
    return changeStatus(this, id, actor, status, requestKey);
  }

  setSeverity(id: number, actor: string, severity: Severity, requestKey?: string): Promise<ChangeOutcome> {
    return changeSeverity(this, id, actor, severity, requestKey);
  }

  assignRole(id: number, actor: string, role: IncidentRole, user: string, requestKey?: string): Promise<ChangeOutcome> {
    return assignRole(this, id, actor, role, user, requestKey);
  }

  addNote(id: number, actor: string, text: string, requestKey?: string): Promise<ChangeOutcome> {
    return addNote(this, id, actor, text, requestKey);
  }

  resolve(id: number, actor: string, summary?: string, requestKey?: string): Promise<ChangeOutcome> {
    return resolveIncident(this, id, actor, summary, requestKey);
  }

  reopen(id: number, actor: string, reason?: string, requestKey?: string): Promise<ChangeOutcome> {
    return reopenIncident(this, id, actor, reason, requestKey);
  }

  async timeline(id: number): Promise<TimelineEntry[]> {
    return timelineEntries(await incidentEvents(this.ctx.pool, id), mention);
  }

  generatePostmortem(id: number, actor: string, requestKey?: string): Promise<store.StoredPostmortem> {
    return writePostmortem(this, id, actor, requestKey);
  }

  latestPostmortem(id: number): Promise<store.StoredPostmortem | undefined> {
    return store.latestPostmortem(this.ctx.pool, id);
  }

  // ---- Membership and chat events ----

  isMember(i: Incident, userId: string): Promise<boolean> {
    return store.isMember(this.ctx.pool, i.id, userId);
  }

  async noteMember(i: Incident, userId: string, via: string): Promise<void> {
    await store.addMembers(this.ctx.pool, i.id, [userId], via, this.ctx.clock.now());
  }

  recordPin(p: PinInput): Promise<boolean> {
    return recordPin(this.ctx, p);
  }

  /** Job handler for the reminder queue (src/incidents/reminders.ts). */
  async runReminderJob(job: Job): Promise<void> {
    const after = await runReminder(this.ctx, this.messages, job);
    if (after) await this.messages.refreshHeadlineQuietly(after);
  }
}
