import { escapeMrkdwn } from '../templates/blocks.js';
import type { AppContext } from '../context.js';
import type { FirebreakModule } from '../app/module.js';
import type {
  ActionInvocation, ChatEvent, CommandInvocation, InteractionContext, Reply, ReplyAddress, ViewErrors, ViewSubmission,
} from './interactions.js';
import { dispatchCommand, type CommandTable } from '../commands/table.js';
import { claimRequest, rememberResult } from '../db/idempotency.js';
import { Semaphore } from '../jobs/background.js';
import { GroupCommit } from '../db/group-commit.js';
import type { Job } from '../jobs/queue.js';
import { observeSlashCommand, type CommandOutcome } from '../ops/metrics.js';
import { annotateRequest, logContext } from '../ops/request-context.js';

/** The job queue that runs accepted requests (one job per request, any replica). */
export const INTERACTION_QUEUE = 'interaction';
/** A replica that dies holding a request's claim gives it up this soon (renewed while alive). */
const INTERACTION_CLAIM_SECONDS = 15;
/**
 * An acknowledged request is retried until the cause clears (a PostgreSQL restart, a replica
 * killed twice in a row): about a minute and a half in all, inside the 30 minutes a Slack
 * response_url stays valid, so the person still hears the outcome.
 */
const INTERACTION_ATTEMPTS = 10;

/** A person's request as stored before it is acknowledged: plain data any replica can run. */
export type DurableRequest =
  | { kind: 'command'; inv: CommandInvocation; reply: ReplyAddress }
  | { kind: 'action'; inv: ActionInvocation; reply: ReplyAddress }
  | { kind: 'event'; ev: ChatEvent };

export type Acceptance =
  /** Stored: it will run exactly once, here or on another replica. */
  | 'accepted'
  /** Stored before (a Slack retry or re-delivery): it runs, or ran, from that record. */
  | 'duplicate'
  /** Nothing handles it (a link button, an event nobody listens to): nothing to store. */
  | 'ignored';

const requestKey = (r: DurableRequest): string =>
  r.kind === 'command' ? `cmd:${r.inv.requestKey}` : r.kind === 'action' ? `act:${r.inv.requestKey}` : `evt:${r.ev.eventId}`;

/**
 * The one place every surface (Slack, console, tests) hands people's actions to. It finds the
 * command, button, modal or event handler by name and makes retries harmless: a request key
 * seen before is dropped, on any replica.
 *
 * Slack requests go through `accept` first: the request and its idempotency key are written
 * in one transaction before Slack gets its 200, and the work runs from the job queue. So a
 * replica killed after the ack loses nothing (another replica, or itself on restart, runs the
 * job), and a Slack retry finds either nothing (and is accepted) or the record (and is a
 * duplicate whose work is, or will be, done).
 */
export class Interactions {
  readonly commands = new Map<string, CommandTable>();
  private actions = new Map<string, NonNullable<FirebreakModule['actions']>[string]>();
  private views = new Map<string, NonNullable<FirebreakModule['views']>[string]>();
  private events = new Map<string, NonNullable<FirebreakModule['events']>[ChatEvent['type']][]>();

  /**
   * Accepted requests start here at once, 16 at a time, so a burst (a storm of declares, a
   * click frenzy) does not starve the acks of requests still arriving on the same event loop.
   */
  private lane = new Semaphore(16);
  /** A burst of requests is stored in a few statements, not one per request (group commit). */
  private intake: GroupCommit<{ key: string; payload: Record<string, unknown>; requestId?: string }, number | null>;

  constructor(modules: FirebreakModule[], private ctx: AppContext) {
    this.intake = new GroupCommit((items) => ctx.jobs.enqueueClaimed(INTERACTION_QUEUE, items, { runAt: ctx.clock.now(), maxAttempts: INTERACTION_ATTEMPTS }));
    ctx.jobs.handle(INTERACTION_QUEUE, (job) => this.runAccepted(job), {
      claimSeconds: INTERACTION_CLAIM_SECONDS,
      retryDelayMs: (n) => Math.min(2000 * n, 15_000),
    });
    for (const m of modules) {
      for (const t of m.commands ?? []) this.commands.set(t.command, t);
    }
    for (const m of modules) {
      for (const [command, subs] of Object.entries(m.subcommands ?? {})) {
        const t = this.commands.get(command);
        // Insert before `help` so help stays last in the generated list.
        if (t) t.subcommands.splice(Math.max(0, t.subcommands.findIndex((s) => s.name === 'help')), 0, ...subs);
      }
      for (const [id, h] of Object.entries(m.actions ?? {})) this.actions.set(id, h);
      for (const [id, h] of Object.entries(m.views ?? {})) this.views.set(id, h);
      for (const [type, h] of Object.entries(m.events ?? {})) {
        const list = this.events.get(type) ?? [];
        list.push(h);
        this.events.set(type, list);
      }
    }
  }

  private context(reply: Reply, replyAddress?: ReplyAddress, submission?: ViewSubmission): InteractionContext {
    return {
      chat: this.ctx.chat, reply, replyAddress, background: (label, work) => this.ctx.background.run(label, work),
      runAsCommand: async (command, text, channelId) => {
        if (!submission) throw new Error('runAsCommand is for modal submissions');
        const actor = submission.actor;
        await this.accept({ kind: 'command', inv: { command, text, channelId, actor, requestKey: `view:${submission.requestKey}` }, reply: { userId: actor.userId, channelId } });
      },
    };
  }

  private handles(r: DurableRequest): boolean {
    if (r.kind === 'command') return true; // unknown commands still get an answer
    if (r.kind === 'action') return this.actions.has(r.inv.actionId);
    return !!this.events.get(r.ev.type)?.length;
  }

  /**
   * Stores a request (idempotency key and payload in one short transaction) and starts it.
   * Throws when PostgreSQL cannot take it: the caller must then not acknowledge it as done.
   */
  async accept(r: DurableRequest): Promise<Acceptance> {
    if (!this.handles(r)) return 'ignored';
    const started = performance.now();
    const key = requestKey(r);
    // The request id travels with the record (the batch is flushed in one request's context):
    // whichever replica or loop runs it, its log lines still name the POST that carried it.
    const jobId = await this.intake.submit({ key, payload: r as unknown as Record<string, unknown>, requestId: logContext().requestId });
    if (jobId === null) {
      if (r.kind === 'command') {
        const subcommand = r.inv.text.trim().split(/\s+/)[0] ?? '';
        observeSlashCommand(this.commands.has(r.inv.command) ? r.inv.command : 'other', subcommand, 'duplicate', (performance.now() - started) / 1000);
        this.ctx.log.info({ key, user: r.inv.actor.userId }, 'slash command re-delivered; it runs from the first delivery');
      }
      return 'duplicate';
    }
    this.ctx.background.run(`start ${key}`, () => this.lane.use(async () => void (await this.ctx.jobs.runNow(jobId))));
    return 'accepted';
  }

  /** Runs an accepted request (job handler). The key was claimed at accept time, so no claim here. */
  private async runAccepted(job: Job): Promise<void> {
    const r = job.payload as unknown as DurableRequest;
    const reply = r.kind === 'event' ? undefined : this.ctx.replies(r.reply);
    try {
      if (r.kind === 'command') await this.runCommand(r.inv, reply!, r.reply);
      else if (r.kind === 'action') await this.runAction(r.inv, reply!, r.reply);
      else await this.runEvent(r.ev);
      await rememberResult(this.ctx.pool, requestKey(r), { done: true, job: job.id });
    } catch (err) {
      // Retried (PostgreSQL may be back in a moment); the person hears only about the last failure.
      if (job.attempts < INTERACTION_ATTEMPTS) throw err;
      this.ctx.log.error({ err, key: requestKey(r) }, 'request failed for good');
      await reply?.ephemeral(`Sorry, that failed on our side: ${escapeMrkdwn((err as Error).message)}. Try again, and if it keeps failing tell the Firebreak owners.`).catch(() => {});
    }
  }

  /** False when the key was seen before: the caller acknowledges and does nothing else. */
  private async firstTime(key: string): Promise<boolean> {
    return claimRequest(this.ctx.pool, key);
  }

  /** Runs a command at once after claiming its key (the console; Slack goes through `accept`). */
  async command(inv: CommandInvocation, reply: Reply): Promise<void> {
    return this.runCommand(inv, reply, { userId: inv.actor.userId, channelId: inv.channelId, triggerId: inv.triggerId }, true);
  }

  private async runCommand(inv: CommandInvocation, reply: Reply, address: ReplyAddress, claim = false): Promise<void> {
    const started = performance.now();
    const subcommand = inv.text.trim().split(/\s+/)[0] ?? '';
    let outcome: CommandOutcome = 'error';
    // Every log line written for this command (including its background work) names it.
    const action = `${inv.command} ${/^[a-z][\w-]{0,30}$/i.test(subcommand) ? subcommand.toLowerCase() : ''}`.trim();
    annotateRequest({ action });
    try {
      const table = this.commands.get(inv.command);
      if (!table) {
        outcome = 'unknown_command';
        return await reply.ephemeral(`Firebreak doesn't handle \`${escapeMrkdwn(inv.command)}\`. Try \`/incident help\`.`);
      }
      if (claim && !(await this.firstTime(`cmd:${inv.requestKey}`))) {
        outcome = 'duplicate';
        return;
      }
      await dispatchCommand(table, inv, this.context(reply, address));
      outcome = 'ok';
    } finally {
      // Unknown command names are typed by people: bucket them so they cannot grow the label set.
      const command = this.commands.has(inv.command) ? inv.command : 'other';
      const seconds = (performance.now() - started) / 1000;
      observeSlashCommand(command, subcommand, outcome, seconds);
      this.ctx.log.info({ action, outcome, user: inv.actor.userId, ms: Math.round(seconds * 1000) }, 'slash command');
    }
  }

  async action(inv: ActionInvocation, reply: Reply): Promise<void> {
    return this.runAction(inv, reply, { userId: inv.actor.userId, channelId: inv.channelId, triggerId: inv.triggerId }, true);
  }

  private async runAction(inv: ActionInvocation, reply: Reply, address: ReplyAddress, claim = false): Promise<void> {
    const h = this.actions.get(inv.actionId);
    if (!h) return; // link buttons (Runbook) and unknown ids need nothing from us
    annotateRequest({ action: inv.actionId });
    if (claim && !(await this.firstTime(`act:${inv.requestKey}`))) return;
    await h(inv, this.context(reply, address));
  }

  async view(sub: ViewSubmission, reply: Reply): Promise<ViewErrors | void> {
    const h = this.views.get(sub.callbackId);
    if (!h) return;
    if (!(await this.firstTime(`view:${sub.requestKey}`))) return;
    return h(sub, this.context(reply, { userId: sub.actor.userId }, sub));
  }

  async event(ev: ChatEvent): Promise<void> {
    return this.runEvent(ev, true);
  }

  private async runEvent(ev: ChatEvent, claim = false): Promise<void> {
    const hs = this.events.get(ev.type);
    if (!hs?.length) return;
    if (claim && !(await this.firstTime(`evt:${ev.eventId}`))) return;
    const { chat, background } = this.context({ ephemeral: async () => {}, openModal: async () => {} });
    for (const h of hs) await h!(ev, { chat, background });
  }
}
