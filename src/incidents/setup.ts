import type pg from 'pg';
import type { AppContext } from '../context.js';
import type { Severity } from './config.js';
import type { HeadlineExtras } from '../templates/incidents.js';
import type { CommsTemplates } from '../templates/comms.js';
import type { Incident } from './model.js';
import type { ReplyAddress } from '../chat/interactions.js';
import { ChatError, type ChannelRef, type MessageTag } from '../chat/surface.js';
import type { Job } from '../jobs/queue.js';
import { channelNameFor, withSuffix } from './channel-name.js';
import * as store from './store.js';
import { channelTaken, claimChannelName, markStep, setupSteps, stuckSetups, type StepState } from './setup-store.js';
import { announcement, channelPurpose, channelTopic, declaredReply, headline, setupFailedNotice } from '../templates/incidents.js';
import { commsMessage } from '../templates/comms.js';

/** The war-room setup of one incident is one job on this queue (dedupe key per incident). */
export const SETUP_QUEUE = 'incident.setup';
export const setupKey = (incidentId: number) => `${SETUP_QUEUE}:${incidentId}`;
/** A replica that dies mid-setup gives the job up this soon (renewed while it runs). */
export const SETUP_CLAIM_SECONDS = 15;
/** Retries 5 s, 10 s, 20 s, ... capped at 5 minutes: about two hours before giving up. */
export const SETUP_ATTEMPTS = 30;
export const setupRetryDelayMs = (failures: number) => Math.min(300_000, 5_000 * 2 ** Math.max(0, failures - 1));

/** What a war-room setup needs from the incident service (IncidentService is one), declared here so neither file imports the other. */
export interface WarRoomIncidents {
  readonly ctx: AppContext;
  readonly comms: CommsTemplates;
  get(id: number): Promise<Incident | undefined>;
  recordTimeline(incidentId: number, kind: string, actor: string, payload: Record<string, unknown>): Promise<void>;
  headlineExtras(i: Incident): HeadlineExtras;
  refreshHeadline(i: Incident): Promise<void>;
  invite(i: Incident, severity?: Severity): Promise<string[]>;
  wasAnnounced(i: Incident): Promise<boolean>;
  commsExtras(i: Incident, update?: string): { update?: string; nextUpdate?: string };
  announceTargets(severity: Severity): Promise<string[]>;
}

const MAX_NAME_ATTEMPTS = 20;

export interface SetupJob {
  incidentId: number;
  /** Who declared (or asked for the repair): told how it went, from whichever replica runs it. */
  notify?: ReplyAddress;
  /** A person asked for this run (`/incident setup`): always answer them. */
  requested?: boolean;
}

export interface WarRoomResult {
  incident: Incident;
  /** Human-readable failures, one per failed step; empty when everything worked. */
  problems: string[];
  /** Step -> error code, as stored in `setup_errors`. */
  errors: Record<string, string>;
}

export function describeChatError(step: string, e: unknown): string {
  const code = e instanceof ChatError ? e.code : (e as Error).message;
  const hint: Record<string, string> = {
    missing_scope: 'the Slack app lacks a scope — reinstall it from manifest.yml',
    not_authed: 'the bot token is missing or revoked',
    invalid_auth: 'the bot token is invalid',
    ratelimited: 'Slack is rate limiting us; retry in a minute',
    channel_not_found: 'the channel does not exist or the bot cannot see it',
    restricted_action: 'a workspace policy stops the bot from doing this',
    user_not_found: 'a responder id in the config is not a user of this workspace',
    slack_unreachable: 'Slack did not answer',
  };
  return `${step}: ${code}${hint[code] ? ` (${hint[code]})` : ''}`;
}

const STEP_LABEL: Record<string, string> = {
  channel: 'create channel', topic: 'set topic', invite: 'invite responders', headline: 'post headline',
  comms: 'post comms drafts', announce: 'announce', page: 'page',
};

/**
 * Opens (or finishes opening) an incident's war room as a sequence of idempotent steps:
 * channel, topic and purpose, invitations, headline, comms drafts, announcement, page.
 * Each step records its intent before calling Slack and its result after. A step found
 * started but not done may have reached Slack before its replica died, so it first looks
 * for what it made: the channel by the name this incident claimed (created by the bot and
 * nobody else's), messages by the metadata tag carrying the incident id and step.
 * `lookFirst` makes every step look before it makes: repairs and retries, where a record
 * may be missing although Slack has the object (a timeout whose answer never came).
 */
export async function setUpWarRoom(svc: WarRoomIncidents, incidentId: number, opts: { lookFirst?: boolean } = {}): Promise<WarRoomResult> {
  const { ctx } = svc;
  const { chat, pool } = ctx;
  let i = (await svc.get(incidentId))!;
  const steps = await setupSteps(pool, incidentId);
  const problems: string[] = [];
  const errors: Record<string, string> = {};
  const tag = (step: string): MessageTag => ({ incidentId, step });

  // Steps that make a Slack object record their intent first; setting a topic, inviting and
  // paging are harmless to repeat, so they record only their result (fewer writes per declare).
  const repeatable = new Set(['topic', 'invite', 'page']);
  const step = async (name: string, work: (resumed: boolean) => Promise<void>): Promise<boolean> => {
    const state: StepState | undefined = steps[name];
    if (state === 'done') return true;
    try {
      if (state !== 'started' && !repeatable.has(name)) await markStep(pool, incidentId, name, 'started');
      steps[name] = 'started';
      await work(state === 'started' || !!opts.lookFirst);
      await markStep(pool, incidentId, name, 'done');
      steps[name] = 'done';
      return true;
    } catch (e) {
      const label = STEP_LABEL[name.split(':')[0]!] ?? name;
      problems.push(describeChatError(label, e));
      errors[label] = e instanceof ChatError ? e.code : (e as Error).message;
      ctx.log.warn({ incidentId, step: name, err: e }, 'incident setup step failed');
      return false;
    }
  };

  // An incident declared before steps were recorded may already have its channel.
  if (i.channelId && !steps.channel) steps.channel = 'done';
  const channelOk = await step('channel', async () => {
    // Created and recorded by a run that died before it could mark the step done.
    if (i.channelId) return;
    const base = channelNameFor(ctx.config.incidents.channelNameTemplate, i);
    const candidates = new Set<string>([...(i.channelName ? [i.channelName] : []), ...Array.from({ length: MAX_NAME_ATTEMPTS - 1 }, (_, k) => withSuffix(base, k + 1)), withSuffix(base, i.id)]);
    for (const name of candidates) {
      if (!(await claimChannelName(pool, incidentId, name))) continue; // another incident's name
      let ch: ChannelRef;
      let adopted = false;
      try {
        ch = await chat.createChannel(name);
      } catch (e) {
        if (!(e instanceof ChatError) || e.code !== 'name_taken') throw e;
        // Ours if the bot made it under the name this incident holds and no incident has it:
        // a create that reached Slack before its replica could record the answer.
        const own = await chat.ownChannel(name);
        if (!own || (await channelTaken(pool, own.id, incidentId))) continue;
        ch = own;
        adopted = true;
      }
      i = await store.updateIncident(pool, incidentId, { channelId: ch.id, channelName: ch.name });
      await svc.recordTimeline(incidentId, 'incident.channel_created', 'firebreak', { channel: ch.id, name: ch.name, ...(adopted ? { adopted } : {}) });
      return;
    }
    throw new ChatError('name_taken', 'conversations.create');
  });

  if (channelOk && i.channelId) {
    const channel = i.channelId;
    if (i.headlineTs && !steps.headline) steps.headline = steps.topic = steps.invite = 'done';
    await step('topic', async () => {
      await chat.setTopic(channel, channelTopic(i));
      await chat.setPurpose(channel, channelPurpose(i));
    });
    await step('invite', async () => {
      const invited = await svc.invite(i);
      await store.addMembers(pool, incidentId, invited, 'invited', ctx.clock.now());
      if (invited.length) await svc.recordTimeline(incidentId, 'incident.responders_invited', 'firebreak', { users: invited });
    });
    const headlineOk = await step('headline', async (resumed) => {
      const found = resumed ? await chat.findTagged(channel, tag('headline')) : undefined;
      const posted = found ?? (await chat.post(channel, headline(i, svc.headlineExtras(i)), { tag: tag('headline') }));
      i = await store.updateIncident(pool, incidentId, { headlineTs: posted.ts });
      await svc.recordTimeline(incidentId, 'incident.headline_posted', 'firebreak', { ts: posted.ts, ...(found ? { adopted: true } : {}) });
      // A found headline may show an older state: bring it up to date.
      if (found) await svc.refreshHeadline(i);
    });
    if (headlineOk && i.headlineTs) {
      const threadTs = i.headlineTs;
      for (const kind of ctx.config.incidents.severities[i.severity].templates) {
        await step(`comms:${kind}`, async (resumed) => {
          if (resumed && (await chat.findTagged(channel, tag(`comms:${kind}`), { threadTs }))) return;
          await chat.post(channel, commsMessage(kind, i, svc.commsExtras(i), svc.comms, { statusPage: ctx.config.statusPage.enabled }), { threadTs, tag: tag(`comms:${kind}`) });
        });
      }
    }
    if (!steps.announce && (await svc.wasAnnounced(i))) steps.announce = 'done';
    await step('announce', async (resumed) => {
      const posted: string[] = [];
      for (const target of await svc.announceTargets(i.severity)) {
        if (!(resumed && (await chat.findTagged(target, tag('announce'))))) await chat.post(target, announcement(i), { tag: tag('announce') });
        posted.push(target);
      }
      await svc.recordTimeline(incidentId, 'incident.announced', 'firebreak', { channels: posted });
    });
  }

  // Paging does not need the channel: it runs even when Slack is down. Pages are claimed per
  // incident and service, so running this step again never pages twice.
  await step('page', () => ctx.hooks.emit('incident.declared', { incident: i, actor: i.declaredBy }));

  i = await store.updateIncident(pool, incidentId, { setupErrors: errors });
  if (problems.length) await svc.recordTimeline(incidentId, 'incident.setup_failed', 'firebreak', { errors });
  return { incident: i, problems, errors };
}

const sameErrors = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/**
 * The setup job. When steps still fail, the failure is recorded on the incident and the
 * declarer and the channel (or the incidents channel) are told once per new failure; then
 * the job fails so the queue tries again later, and again, until Slack answers.
 */
export async function runSetupJob(svc: WarRoomIncidents, job: Job): Promise<void> {
  const p = job.payload as unknown as SetupJob;
  const before = await svc.get(p.incidentId);
  if (!before) return;
  const r = await setUpWarRoom(svc, p.incidentId, { lookFirst: p.requested || job.attempts > 1 });
  // Other areas follow the incident into its channel (alert groups post there), from whichever
  // replica ran the setup; a replica that died mid-declare leaves this to the one that resumes.
  if (r.incident.channelId) await svc.ctx.hooks.emit('incident.war_room_ready', { incident: r.incident, actor: 'firebreak' });
  const reply = p.notify ? svc.ctx.replies(p.notify) : undefined;
  const told = async (what: string, work: () => Promise<unknown>) => {
    await work().catch((err: unknown) => svc.ctx.log.warn({ err, incidentId: p.incidentId }, `could not ${what}`));
  };
  if (r.problems.length) {
    const gaveUp = job.attempts >= SETUP_ATTEMPTS;
    if (p.requested || job.attempts === 1 || !sameErrors(before.setupErrors, r.errors)) {
      const notice = setupFailedNotice(r.incident, r.problems, !gaveUp);
      if (reply) await told('tell the declarer', () => reply.ephemeral(notice));
      await told('post the setup failure', () => postNotice(svc, r.incident, notice));
    }
    throw new Error(`setup of INC-${p.incidentId} incomplete: ${r.problems.join('; ')}`);
  }
  // Told when it first works, and when it works after a reported failure.
  if (reply && (p.requested || job.attempts === 1 || Object.keys(before.setupErrors).length > 0 || !before.channelId)) {
    await told('tell the declarer', () => reply.ephemeral(declaredReply(r.incident, [])));
  }
}

/**
 * Setups whose job ran out of retries (Slack or PostgreSQL away for hours) start again once
 * Slack answers: nothing stays half set up because an outage outlasted the back-off. Run by
 * the scheduler (one replica); the re-armed job tells the declarer when it completes.
 */
export async function retryStuckSetups(svc: WarRoomIncidents): Promise<number[]> {
  const stuck = await stuckSetups(svc.ctx.pool, SETUP_QUEUE);
  if (stuck.length === 0) return [];
  try {
    await svc.ctx.chat.ping();
  } catch (err) {
    svc.ctx.log.info({ err, incidents: stuck.map((s) => s.incidentId) }, 'war-room setups still waiting: Slack does not answer yet');
    return [];
  }
  const started: number[] = [];
  for (const s of stuck) {
    const payload: SetupJob = { incidentId: s.incidentId, ...(s.notify ? { notify: s.notify } : {}) };
    const jobId = await svc.ctx.jobs.rearm(SETUP_QUEUE, { ...payload }, { runAt: svc.ctx.clock.now(), dedupeKey: setupKey(s.incidentId), maxAttempts: SETUP_ATTEMPTS });
    if (jobId !== null) started.push(s.incidentId);
  }
  if (started.length) svc.ctx.log.info({ incidents: started }, 'war-room setups that had run out of retries start again');
  return started;
}

/** In the incident's channel when there is one, else in the incidents channel. */
async function postNotice(svc: WarRoomIncidents, i: Incident, notice: { text: string }): Promise<void> {
  const target = i.channelId ?? (await svc.ctx.chat.findChannel(svc.ctx.config.incidents.channel))?.id;
  if (target) await svc.ctx.chat.post(target, notice);
}

/** Schedules the setup job in the transaction that records the incident. */
export function enqueueSetup(ctx: AppContext, payload: SetupJob, tx: pg.PoolClient): Promise<number | null> {
  return ctx.jobs.enqueue(SETUP_QUEUE, { ...payload }, { runAt: ctx.clock.now(), dedupeKey: setupKey(payload.incidentId), maxAttempts: SETUP_ATTEMPTS }, tx);
}
