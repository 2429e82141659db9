import { escapeMrkdwn } from '../templates/blocks.js';
import type { AppContext, FirebreakModule } from '../module.js';
import type {
  ActionInvocation, ChatEvent, CommandInvocation, InteractionContext, Reply, ViewErrors, ViewSubmission,
} from '../chat/interactions.js';
import { dispatchCommand, type CommandTable } from '../commands/table.js';
import { claimRequest } from '../db/idempotency.js';
import { observeSlashCommand, type CommandOutcome } from '../ops/metrics.js';
import { annotateRequest } from '../ops/request-context.js';

/**
 * The one place every surface (Slack, console, tests) hands people's actions to. It finds the
 * command, button, modal or event handler by name and makes retries harmless: a request key
 * seen before is dropped, on any replica.
 */
export class Interactions {
  readonly commands = new Map<string, CommandTable>();
  private actions = new Map<string, NonNullable<FirebreakModule['actions']>[string]>();
  private views = new Map<string, NonNullable<FirebreakModule['views']>[string]>();
  private events = new Map<string, NonNullable<FirebreakModule['events']>[ChatEvent['type']][]>();

  constructor(modules: FirebreakModule[], private ctx: AppContext) {
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

  private context(reply: Reply): InteractionContext {
    return { chat: this.ctx.chat, reply, background: (label, work) => this.ctx.background.run(label, work) };
  }

  /** False when the key was seen before: the caller acknowledges and does nothing else. */
  private async firstTime(key: string): Promise<boolean> {
    return claimRequest(this.ctx.pool, key);
  }

  async command(inv: CommandInvocation, reply: Reply): Promise<void> {
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
      if (!(await this.firstTime(`cmd:${inv.requestKey}`))) {
        outcome = 'duplicate';
        return;
      }
      await dispatchCommand(table, inv, this.context(reply));
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
    const h = this.actions.get(inv.actionId);
    if (!h) return; // link buttons (Runbook) and unknown ids need nothing from us
    annotateRequest({ action: inv.actionId });
    if (!(await this.firstTime(`act:${inv.requestKey}`))) return;
    await h(inv, this.context(reply));
  }

  async view(sub: ViewSubmission, reply: Reply): Promise<ViewErrors | void> {
    const h = this.views.get(sub.callbackId);
    if (!h) return;
    if (!(await this.firstTime(`view:${sub.requestKey}`))) return;
    return h(sub, this.context(reply));
  }

  async event(ev: ChatEvent): Promise<void> {
    const hs = this.events.get(ev.type);
    if (!hs?.length) return;
    if (!(await this.firstTime(`evt:${ev.eventId}`))) return;
    const { chat, background } = this.context({ ephemeral: async () => {}, openModal: async () => {} });
    for (const h of hs) await h!(ev, { chat, background });
  }
}
