import { Semaphore } from '../jobs/background.js';
import { mention } from '../templates/format.js';
import type pg from 'pg';
import type { AppContext } from '../context.js';
import { SEVERITIES, type Severity } from './config.js';
import { ROLE_FIELD, type Incident, type IncidentRole, type IncidentStatus } from './model.js';
import { ChatError, type ChatMessage, type PostedMessage } from '../chat/surface.js';
import { appendEvent, incidentEvents } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import type { ReplyAddress } from '../chat/interactions.js';
import { describeChatError, enqueueSetup, runSetupJob, setUpWarRoom, SETUP_QUEUE, setupKey, SETUP_ATTEMPTS, type SetupJob, type WarRoomResult } from './setup.js';
import * as store from './store.js';
import { cancelReminders, nextReminderDue, runReminder, scheduleReminder } from './reminders.js';
import { timelineEntries, type TimelineEntry } from './timeline.js';
import type { Job } from '../jobs/queue.js';
import {
  announcement, channelTopic, headline, noteNotice, postmortemPosted, reopenedNotice, resolvedAnnouncement,
  resolvedNotice, roleNotice, severityNotice, statusNotice, updateCrossPost, updatePosted, type HeadlineExtras,
} from '../templates/incidents.js';
import { commsMessage, loadCommsTemplates, renderComms, type CommsKind, type CommsTemplates } from '../templates/comms.js';
import { postmortemMarkdown, slackToMarkdown } from '../templates/postmortem.js';

export interface DeclareInput {
  title: string;
  severity: Severity;
  summary?: string;
  service?: string;
  /** Slack user id of the declarer, or `firebreak` / `alert:<source>` for automation. */
  actor: string;
  /** Idempotency: the same key never declares twice (Slack retry, alert group). */
  requestKey?: string;
  /** Where to tell the declarer how the war-room setup went (from whichever replica runs it). */
  notify?: ReplyAddress;
}

export type DeclareOutcome =
  | { status: 'declared'; incident: Incident; setupJobId?: number }
  | { status: 'duplicate'; incident: Incident };

/** What a change to an incident came to. Refusals carry the sentence to show the person. */
export type ChangeOutcome =
  | {
      ok: true; incident: Incident; before: Incident; problems: string[];
      /** The event as recorded (its `from` fields say what the change started from, also on a re-run). */
      event: Record<string, unknown>;
      /** A re-run of a request whose change was saved before: its chat effects may be in Slack already. */
      repeated?: boolean;
    }
  | { ok: false; message: string; incident?: Incident };

interface Change {
  patch: store.IncidentPatch;
  event: { type: string; payload: Record<string, unknown> };
  /** Runs in the same transaction after the patch: reminders are rescheduled atomically with it. */
  inTx?: (updated: Incident, tx: pg.PoolClient) => Promise<void>;
}

const isPerson = (actor: string): boolean => /^[UW][A-Z0-9]+$/.test(actor);

/**
 * The chat effects of one saved change, made once per request. Each message carries a tag
 * naming the request and the effect (Slack message metadata); a re-run of the request (its
 * replica died after the change was saved) looks for each tagged message before posting it,
 * so a post that made it to Slack is not made again and one that did not is made now.
 */
interface EffectRun {
  incidentId: number;
  requestKey?: string;
  resumed: boolean;
}

const effectRun = (id: number, requestKey: string | undefined, out: { repeated?: boolean }): EffectRun => ({ incidentId: id, requestKey, resumed: !!out.repeated });

export type { WarRoomResult } from './setup.js';

/** Incident use cases. Surface-neutral: talks to people only through ctx.chat. */
export class IncidentService {
  /** War rooms opened at once; a burst of declares queues behind these (each is ~10 Slack calls). */
  private readonly warRooms = new Semaphore(8);
  /** The team's comms templates, read once at start; `firebreak config check` reports broken files. */
  readonly comms: CommsTemplates;

  constructor(
    readonly ctx: AppContext,
    /** Whether PagerDuty routing keys are configured: the headline says whether declares page. */
    private readonly paging: { enabled: boolean },
  ) {
    const loaded = loadCommsTemplates(ctx.config.incidents.templatesDir);
    for (const problem of loaded.problems) ctx.log.warn({ problem }, 'comms template override ignored; using the built-in one');
    this.comms = loaded.templates;
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

  /**
   * Records the incident and its war-room setup job in one transaction (fast) and returns;
   * the setup job (channel, invitations, headline, drafts, announcement, page) starts at once
   * on this replica and is finished by any replica if this one dies; whichever runs it emits
   * `incident.war_room_ready` once the channel exists. Slack retries and double submissions
   * come back as `duplicate` with the incident that already exists.
   */
  async declare(input: DeclareInput): Promise<DeclareOutcome> {
    const out = await this.record(input);
    if (out.status === 'declared' && out.setupJobId) {
      const id = out.incident.id;
      const jobId = out.setupJobId;
      this.ctx.background.run(`open war room INC-${id}`, async () => {
        await this.warRooms.use(() => this.ctx.jobs.runNow(jobId));
      });
    }
    return out;
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

  private async record(input: DeclareInput): Promise<DeclareOutcome> {
    const now = this.ctx.clock.now();
    const cfg = this.ctx.config.incidents;
    const key = input.requestKey ? `declare:${input.requestKey}` : null;
    if (key) {
      const existing = await store.incidentByDeclareKey(this.ctx.pool, key);
      if (existing) return { status: 'duplicate', incident: existing };
    }
    const since = new Date(now.getTime() - cfg.duplicateWindowSeconds * 1000);
    let duplicate: Incident | undefined;
    let setupJobId: number | null = null;
    const incident = await withTransaction(this.ctx.pool, async (tx) => {
      // Two submissions racing each other must see each other: serialise per declarer+title.
      await store.lockKey(tx, `declare:${input.actor}:${input.title.toLowerCase()}`);
      duplicate = await store.recentDuplicate(tx, input.actor, input.title, since);
      if (duplicate) return undefined;
      const created = await store.insertIncident(tx, {
        title: input.title, severity: input.severity, summary: input.summary, service: input.service,
        declaredBy: input.actor, declaredAt: now, declareKey: key,
        // A person who declares commands until they hand over; automation leaves it open.
        commander: /^[UW][A-Z0-9]+$/.test(input.actor) ? input.actor : null,
      });
      if (!created) return undefined;
      await appendEvent(tx, {
        type: 'incident.declared', actor: input.actor, at: now, incidentId: created.id,
        payload: { title: created.title, severity: created.severity, summary: created.summary, service: created.service },
      });
      await scheduleReminder(this.ctx, created, tx);
      setupJobId = await enqueueSetup(this, { incidentId: created.id, notify: input.notify }, tx);
      return created;
    });
    if (duplicate) return { status: 'duplicate', incident: duplicate };
    if (!incident) return { status: 'duplicate', incident: (await store.incidentByDeclareKey(this.ctx.pool, key!))! };
    return { status: 'declared', incident, setupJobId: setupJobId ?? undefined };
  }

  /** Records a setup step as a timeline event. */
  private async step(i: Incident, type: string, payload: Record<string, unknown> = {}): Promise<void> {
    await appendEvent(this.ctx.pool, { type, actor: 'firebreak', at: this.ctx.clock.now(), incidentId: i.id, payload });
  }

  /**
   * Marks the first response (a person acting on the incident, or a PagerDuty ack). Only
   * the first call sets acknowledged_at, so MTTA measures the first response, not the last.
   */
  async acknowledge(incidentId: number, actor: string, source: string, at?: Date): Promise<Incident | undefined> {
    const { incident, acked } = await this.markAcknowledged(incidentId, actor, source, at ?? this.ctx.clock.now());
    if (acked && incident) await this.refreshHeadlineQuietly(incident);
    return incident;
  }

  private async markAcknowledged(incidentId: number, actor: string, source: string, when: Date): Promise<{ incident?: Incident; acked: boolean }> {
    const acked = await withTransaction(this.ctx.pool, async (tx) => {
      if (!(await store.markAcknowledged(tx, incidentId, when))) return false;
      await appendEvent(tx, { type: 'incident.acknowledged', actor, at: when, incidentId, payload: { source } });
      return true;
    });
    return { incident: await this.get(incidentId), acked };
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

  /** Posts in the incident's channel; logs and skips when the channel was never created. */
  /** Posts in the incident's channel; where it went, so a message that reflects state can be edited later. */
  async postToIncident(incidentId: number, message: ChatMessage): Promise<PostedMessage | undefined> {
    const i = await this.get(incidentId);
    if (!i?.channelId) {
      this.ctx.log.warn({ incidentId }, 'incident has no channel to post in');
      return undefined;
    }
    return this.ctx.chat.post(i.channelId, message);
  }

  /** Headline refresh that never fails the change that triggered it: the state is already saved. */
  async refreshHeadlineQuietly(i: Incident): Promise<void> {
    try {
      await this.refreshHeadline(i);
    } catch (err) {
      this.ctx.log.warn({ err, incidentId: i.id }, 'headline refresh failed');
    }
  }

  headlineExtras(i: Incident): HeadlineExtras {
    const required = this.ctx.config.incidents.severities[i.severity].requiredRoles;
    return {
      paging: this.paging.enabled ? 'on (PagerDuty)' : 'off (no PagerDuty key configured)',
      missingRoles: required.filter((r) => !i[ROLE_FIELD[r]]),
      nextUpdateDue: nextReminderDue(this.ctx, i),
    };
  }

  /** Re-renders the headline message so it always shows the current state. */
  async refreshHeadline(i: Incident): Promise<void> {
    if (!i.channelId || !i.headlineTs) return;
    await this.ctx.chat.update(i.channelId, i.headlineTs, headline(i, this.headlineExtras(i)));
  }

  async invite(i: Incident, severity: Severity = i.severity): Promise<string[]> {
    const policy = this.ctx.config.incidents.severities[severity];
    const users = new Set<string>(policy.responders);
    if (/^[UW][A-Z0-9]+$/.test(i.declaredBy)) users.add(i.declaredBy);
    for (const g of policy.userGroups) for (const u of await this.ctx.chat.userGroupMembers(g)) users.add(u);
    const list = [...users];
    if (list.length) await this.ctx.chat.invite(i.channelId!, list);
    return list;
  }

  /** Whether the person commands an incident that is not resolved. */
  commandsOpenIncident(userId: string): Promise<boolean> {
    return store.commandsOpenIncident(this.ctx.pool, userId);
  }

  async wasAnnounced(i: Incident): Promise<boolean> {
    return store.hasEventOfType(this.ctx.pool, i.id, 'incident.announced');
  }

  // ---- Lifecycle: every change is one transaction (row lock, patch, event), then chat ----

  /** Fills the comms drafts: the next update time comes from the severity's cadence. */
  commsExtras(i: Incident, update?: string): { update?: string; nextUpdate?: string } {
    const due = nextReminderDue(this.ctx, i);
    return { update, nextUpdate: due ? `by ${due.toISOString().slice(11, 16)} UTC` : undefined };
  }

  /** A draft rendered from the team's template, e.g. to prefill the update modal. */
  draft(kind: CommsKind, i: Incident, update?: string): string {
    return renderComms(kind, i, this.commsExtras(i, update), this.comms);
  }

  /**
   * A draft for a plain-text box (the update form): mentions as names and entities decoded,
   * since a text input shows markup raw and the person would post `<@U0ALICE>` back.
   */
  async editableDraft(kind: CommsKind, i: Incident, update?: string): Promise<string> {
    const draft = this.draft(kind, i, update);
    const names = await this.displayNames([draft]);
    return slackToMarkdown(draft, (u) => names.get(u));
  }

  /**
   * With a `requestKey` (the Slack request that asked for it), the change is made once: a job
   * re-run after its replica died finds the event already written and answers `repeated`.
   */
  private async change(id: number, actor: string, decide: (i: Incident) => Change | string, requestKey?: string): Promise<ChangeOutcome> {
    const now = this.ctx.clock.now();
    const out = await withTransaction(this.ctx.pool, async (tx): Promise<ChangeOutcome> => {
      if (!(await store.lockIncident(tx, id))) return { ok: false, message: `There is no INC-${id}.` };
      const before = (await store.getIncident(tx, id))!;
      const recorded = requestKey ? await store.eventMarked(tx, id, 'requestKey', requestKey) : undefined;
      if (recorded) return { ok: true, incident: before, before, problems: [], event: recorded, repeated: true };
      const c = decide(before);
      if (typeof c === 'string') return { ok: false, message: c, incident: before };
      const updated = await store.updateIncident(tx, id, c.patch);
      const payload = requestKey ? { ...c.event.payload, requestKey } : c.event.payload;
      await appendEvent(tx, { type: c.event.type, actor, at: now, incidentId: id, payload });
      await c.inTx?.(updated, tx);
      return { ok: true, incident: updated, before, problems: [], event: payload };
    });
    if (out.ok && !out.repeated && isPerson(actor)) {
      // The first thing a person does on the incident is its acknowledgement (MTTA). The
      // caller refreshes the headline after its own change, so no refresh here.
      out.incident = (await this.markAcknowledged(id, actor, 'first responder action', now)).incident ?? out.incident;
    }
    return out;
  }

  /** Chat side effects of a saved change: failures are reported, never undo the change. */
  private async effect(problems: string[], step: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (e) {
      problems.push(describeChatError(step, e));
      this.ctx.log.warn({ err: e, step }, 'incident side effect failed');
    }
  }

  private async postIn(i: Incident, problems: string[], message: ChatMessage, run?: EffectRun, name = 'notice'): Promise<void> {
    if (i.channelId) await this.effect(problems, 'post in the incident channel', () => this.postOnce(run, name, i.channelId!, message));
  }

  /** Posts unless `run` is a re-run that finds the message its first run posted (by tag). */
  private async postOnce(run: EffectRun | undefined, name: string, channel: string, message: ChatMessage, threadTs?: string): Promise<void> {
    const tag = run?.requestKey ? { incidentId: run.incidentId, step: `${name}:${run.requestKey}` } : undefined;
    const thread = threadTs ? { threadTs } : {};
    if (tag && run!.resumed && (await this.ctx.chat.findTagged(channel, tag, thread))) return;
    await this.ctx.chat.post(channel, message, { ...thread, ...(tag ? { tag } : {}) });
  }

  /** Whether this request already changed the incident (a re-run of a job whose replica died). */
  async madeChange(id: number, requestKey: string): Promise<boolean> {
    return !!(await store.eventMarked(this.ctx.pool, id, 'requestKey', requestKey));
  }

  async announceTargets(severity: Severity): Promise<string[]> {
    const cfg = this.ctx.config.incidents;
    const ids: string[] = [];
    for (const target of new Set([cfg.channel, ...cfg.severities[severity].announce])) {
      const ch = await this.ctx.chat.findChannel(target);
      if (!ch) throw new ChatError('channel_not_found', `announce in #${target.replace(/^#/, '')}`);
      ids.push(ch.id);
    }
    return ids;
  }

  private async syncChannel(i: Incident, problems: string[], topic = false): Promise<void> {
    if (topic && i.channelId) await this.effect(problems, 'set topic', () => this.ctx.chat.setTopic(i.channelId!, channelTopic(i)));
    await this.effect(problems, 'refresh the headline', () => this.refreshHeadline(i));
  }

  /** A stakeholder update: posted, cross-posted to the announcement channels, and the cadence restarts. */
  async postUpdate(id: number, actor: string, text: string, requestKey?: string): Promise<ChangeOutcome> {
    const now = this.ctx.clock.now();
    const out = await this.change(id, actor, (i) =>
      i.status === 'resolved'
        ? `INC-${id} is resolved; reopen it before posting updates.`
        : {
            patch: { lastUpdateAt: now, missedReminders: 0 },
            event: { type: 'incident.update_posted', payload: { text, status: i.status } },
            inTx: (u, tx) => scheduleReminder(this.ctx, u, tx),
          },
      requestKey,
    );
    if (!out.ok) return out;
    const i = out.incident;
    const run = effectRun(id, requestKey, out);
    await this.postIn(i, out.problems, updatePosted(i, actor, text), run, 'update');
    await this.effect(out.problems, 'cross-post the update', async () => {
      for (const ch of await this.announceTargets(i.severity)) await this.postOnce(run, 'update-crosspost', ch, updateCrossPost(i, text));
    });
    await this.syncChannel(i, out.problems);
    return out;
  }

  async setStatus(id: number, actor: string, status: IncidentStatus, requestKey?: string): Promise<ChangeOutcome> {
    if (status === 'resolved') return this.resolve(id, actor, undefined, requestKey);
    const now = this.ctx.clock.now();
    const out = await this.change(id, actor, (i) => {
      if (i.status === 'resolved') return `INC-${id} is resolved; \`/incident reopen ${id}\` first.`;
      if (i.status === status) return `INC-${id} is already ${status}.`;
      const patch: store.IncidentPatch = { status };
      // First time only: the metrics measure when it was first identified and mitigated.
      if (status === 'identified' && !i.identifiedAt) patch.identifiedAt = now;
      if (status === 'monitoring' && !i.mitigatedAt) patch.mitigatedAt = now;
      if (status === 'monitoring' && !i.identifiedAt) patch.identifiedAt = now;
      return { patch, event: { type: 'incident.status_changed', payload: { from: i.status, to: status } } };
    }, requestKey);
    if (!out.ok) return out;
    const from = String(out.event.from);
    await this.postIn(out.incident, out.problems, statusNotice(actor, from as IncidentStatus, status), effectRun(id, requestKey, out), 'status');
    await this.syncChannel(out.incident, out.problems, true);
    await this.ctx.hooks.emit('incident.status_changed', { incident: out.incident, from, to: status, actor });
    return out;
  }

  /** Raising the severity applies its policy: responders invited, announced, cadence and roles. */
  async setSeverity(id: number, actor: string, severity: Severity, requestKey?: string): Promise<ChangeOutcome> {
    const out = await this.change(id, actor, (i) => {
      if (i.status === 'resolved') return `INC-${id} is resolved; \`/incident reopen ${id}\` first.`;
      if (i.severity === severity) return `INC-${id} is already ${severity}.`;
      return {
        patch: { severity },
        event: { type: 'incident.severity_changed', payload: { from: i.severity, to: severity } },
        inTx: (u, tx) => scheduleReminder(this.ctx, u, tx),
      };
    }, requestKey);
    if (!out.ok) return out;
    const i = out.incident;
    const from = out.event.from as Severity;
    const run = effectRun(id, requestKey, out);
    const raised = SEVERITIES.indexOf(severity) < SEVERITIES.indexOf(from);
    await this.postIn(i, out.problems, severityNotice(actor, from, severity, raised), run, 'severity');
    if (raised && i.channelId) {
      await this.effect(out.problems, 'invite responders', async () => {
        const invited = await this.invite(i, severity);
        const added = await store.addMembers(this.ctx.pool, i.id, invited, 'invited', this.ctx.clock.now());
        if (added.length) await this.step(i, 'incident.responders_invited', { users: added, severity });
      });
      await this.effect(out.problems, 'announce', async () => {
        for (const ch of await this.announceTargets(severity)) await this.postOnce(run, 'severity-announce', ch, announcement(i));
      });
      const policies = this.ctx.config.incidents.severities;
      const newDrafts = policies[severity].templates.filter((k) => !policies[from].templates.includes(k));
      await this.effect(out.problems, 'post comms drafts', async () => {
        for (const kind of newDrafts) {
          await this.postOnce(run, `severity-comms:${kind}`, i.channelId!, commsMessage(kind, i, this.commsExtras(i), this.comms), i.headlineTs ?? undefined);
        }
      });
    }
    await this.syncChannel(i, out.problems, true);
    await this.ctx.hooks.emit('incident.severity_changed', { incident: i, from, to: severity, actor });
    return out;
  }

  async assignRole(id: number, actor: string, role: IncidentRole, user: string, requestKey?: string): Promise<ChangeOutcome> {
    const field = ROLE_FIELD[role];
    const out = await this.change(id, actor, (i) => {
      if (i.status === 'resolved') return `INC-${id} is resolved; \`/incident reopen ${id}\` first.`;
      if (i[field] === user) return `<@${user}> already holds that role on INC-${id}.`;
      return { patch: { [field]: user }, event: { type: 'incident.role_assigned', payload: { role, user, previous: i[field] } } };
    }, requestKey);
    if (!out.ok) return out;
    const i = out.incident;
    await store.addMembers(this.ctx.pool, i.id, [user], `role:${role}`, this.ctx.clock.now());
    // Inviting someone already in the channel is harmless: a re-run simply does it again.
    if (i.channelId) await this.effect(out.problems, 'invite', () => this.ctx.chat.invite(i.channelId!, [user]));
    await this.postIn(i, out.problems, roleNotice(actor, role, user), effectRun(id, requestKey, out), 'role');
    await this.syncChannel(i, out.problems, role === 'commander');
    return out;
  }

  async addNote(id: number, actor: string, text: string, requestKey?: string): Promise<ChangeOutcome> {
    const out = await this.change(
      id, actor,
      (i) =>
        i.status === 'resolved'
          ? `INC-${id} is resolved; notes after the fact belong in the post-mortem.`
          : { patch: {}, event: { type: 'incident.note_added', payload: { text } } },
      requestKey,
    );
    if (!out.ok) return out;
    await this.postIn(out.incident, out.problems, noteNotice(actor, text), effectRun(id, requestKey, out), 'note');
    return out;
  }

  /** Resolves, posts the resolved notice and draft, announces, and writes the post-mortem. */
  async resolve(id: number, actor: string, summary?: string, requestKey?: string): Promise<ChangeOutcome> {
    const now = this.ctx.clock.now();
    const out = await this.change(id, actor, (i) => {
      if (i.status === 'resolved') return `INC-${id} was already resolved at ${i.resolvedAt?.toISOString().replace('T', ' ').slice(0, 19)} UTC.`;
      // Resolving means it is mitigated too, if nobody said so before.
      return {
        patch: { status: 'resolved', resolvedAt: now, mitigatedAt: i.mitigatedAt ?? now, missedReminders: 0 },
        event: { type: 'incident.resolved', payload: { from: i.status, ...(summary ? { summary } : {}) } },
        inTx: (_u, tx) => cancelReminders(this.ctx, id, tx),
      };
    }, requestKey);
    if (!out.ok) return out;
    const i = out.incident;
    const run = effectRun(id, requestKey, out);
    await this.postIn(i, out.problems, resolvedNotice(i, actor, summary), run, 'resolved');
    await this.postIn(i, out.problems, commsMessage('resolved', i, this.commsExtras(i, summary), this.comms), run, 'resolved-comms');
    await this.effect(out.problems, 'announce the resolution', async () => {
      for (const ch of await this.announceTargets(i.severity)) await this.postOnce(run, 'resolved-announce', ch, resolvedAnnouncement(i));
    });
    await this.syncChannel(i, out.problems, true);
    await this.effect(out.problems, 'write the post-mortem', () => this.generatePostmortem(id, actor, requestKey));
    await this.ctx.hooks.emit('incident.status_changed', { incident: i, from: String(out.event.from), to: 'resolved', actor });
    await this.ctx.hooks.emit('incident.resolved', { incident: i, actor });
    return out;
  }

  async reopen(id: number, actor: string, reason?: string, requestKey?: string): Promise<ChangeOutcome> {
    const now = this.ctx.clock.now();
    const out = await this.change(id, actor, (i) =>
      i.status !== 'resolved'
        ? `INC-${id} is still open (${i.status}).`
        : {
            // The cadence restarts from the reopen; first identified/mitigated times are kept.
            patch: { status: 'investigating', resolvedAt: null, lastUpdateAt: now, missedReminders: 0 },
            event: { type: 'incident.reopened', payload: reason ? { reason } : {} },
            inTx: (u, tx) => scheduleReminder(this.ctx, u, tx),
          },
      requestKey,
    );
    if (!out.ok) return out;
    await this.postIn(out.incident, out.problems, reopenedNotice(out.incident, actor, reason), effectRun(id, requestKey, out), 'reopen');
    await this.syncChannel(out.incident, out.problems, true);
    await this.ctx.hooks.emit('incident.status_changed', { incident: out.incident, from: 'resolved', to: 'investigating', actor });
    await this.ctx.hooks.emit('incident.reopened', { incident: out.incident, actor });
    return out;
  }

  async timeline(id: number): Promise<TimelineEntry[]> {
    return timelineEntries(await incidentEvents(this.ctx.pool, id), mention);
  }

  /**
   * Renders the post-mortem from the incident and its events, stores it as a new version
   * and uploads it to the channel. Safe to run again at any time: each run is a new version,
   * except a re-run of the same request (`requestKey`), which finishes the version its first run saved.
   */
  async generatePostmortem(id: number, actor: string, requestKey?: string): Promise<store.StoredPostmortem> {
    const i = await this.get(id);
    if (!i) throw new Error(`There is no INC-${id}.`);
    const now = this.ctx.clock.now();
    const key = requestKey ? `postmortem:${requestKey}` : undefined;
    const earlier = key ? await store.eventMarked(this.ctx.pool, id, 'requestKey', key) : undefined;
    const saved = earlier ? await store.postmortemVersion(this.ctx.pool, id, Number(earlier.version)) : await this.savePostmortem(i, actor, now, key);
    if (!saved) throw new Error(`INC-${id} has no post-mortem v${String(earlier?.version)}`);
    if (i.channelId) {
      const tag = key ? { incidentId: id, step: key } : undefined;
      // The notice follows the upload: found, both were made.
      if (tag && earlier && (await this.ctx.chat.findTagged(i.channelId, tag))) return saved;
      const filename = `INC-${id}-postmortem-v${saved.version}.md`;
      // A re-run killed between upload and notice finds the file already shared and only posts the notice.
      if (!(tag && earlier && (await this.ctx.chat.findUpload(i.channelId, filename)))) {
        await this.ctx.chat.uploadFile(i.channelId, { filename, title: `Post-mortem draft v${saved.version}: INC-${id} ${i.title}`, content: saved.markdown });
      }
      await this.ctx.chat.post(i.channelId, postmortemPosted(i, saved.version), tag ? { tag } : {});
    }
    return saved;
  }

  private async savePostmortem(i: Incident, actor: string, now: Date, requestKey?: string): Promise<store.StoredPostmortem> {
    const id = i.id;
    const events = await incidentEvents(this.ctx.pool, id);
    const names = await this.displayNames([i.commander, i.commsLead, i.techLead, actor, ...events.map((e) => e.actor), JSON.stringify(events.map((e) => e.payload))]);
    const markdown = postmortemMarkdown({ incident: i, events, generatedAt: now, generatedBy: actor, nameOf: (u) => names.get(u) });
    return withTransaction(this.ctx.pool, async (tx) => {
      // Two regenerations at once take turns for the version number.
      await store.lockKey(tx, `postmortem:${id}`);
      const pm = await store.savePostmortem(tx, id, markdown, actor, now);
      await appendEvent(tx, { type: 'incident.postmortem_generated', actor, at: now, incidentId: id, payload: { version: pm.version, ...(requestKey ? { requestKey } : {}) } });
      return pm;
    });
  }

  /** Display names of every user id found in `texts`, from the chat surface when it can tell. */
  private async displayNames(texts: Array<string | null | undefined>): Promise<Map<string, string>> {
    const ids = new Set(texts.flatMap((t) => t?.match(/\b[UW][A-Z0-9]{2,}\b/g) ?? []));
    const names = new Map<string, string>();
    const lookup = this.ctx.chat.displayName?.bind(this.ctx.chat);
    if (!lookup) return names;
    await Promise.all([...ids].map(async (id) => {
      const name = await lookup(id).catch(() => undefined);
      if (name) names.set(id, name);
    }));
    return names;
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

  /**
   * A message in an incident channel was pinned or got a :pushpin:: it becomes one timeline
   * entry with its text and link, whatever the number of deliveries or pinners.
   */
  async recordPin(p: { channelId: string; messageTs: string; actor: string; text?: string; via: 'pin' | 'reaction' }): Promise<boolean> {
    const i = await this.byChannel(p.channelId);
    if (!i) return false;
    if (await store.pinExists(this.ctx.pool, i.id, p.messageTs)) return false;
    let text = p.text;
    if (text === undefined) {
      text = await this.ctx.chat.messageText(p.channelId, p.messageTs).catch((err: unknown) => {
        this.ctx.log.warn({ err, incidentId: i.id }, 'could not read the pinned message');
        return undefined;
      });
    }
    const link = await this.ctx.chat.permalink(p.channelId, p.messageTs);
    const now = this.ctx.clock.now();
    return withTransaction(this.ctx.pool, async (tx) => {
      if (!(await store.claimPin(tx, i.id, p.messageTs, now))) return false;
      await appendEvent(tx, {
        type: 'incident.pinned', actor: p.actor, at: now, incidentId: i.id,
        payload: { text: (text ?? '').slice(0, 3000), ts: p.messageTs, via: p.via, ...(link ? { link } : {}) },
      });
      return true;
    });
  }

  /** Job handler for the reminder queue (src/incidents/reminders.ts). */
  async runReminderJob(job: Job): Promise<void> {
    const after = await runReminder(this.ctx, job);
    if (after) await this.refreshHeadlineQuietly(after);
  }
}
