import type { ChatMessage } from '../chat/surface.js';
import type { DrillOutcome } from './drill.js';
import type { DrRun } from './model.js';
import type { DrContext } from './context.js';
import * as store from './store.js';
import * as view from '../templates/dr.js';

/** Tells the ops channel (a missed or failed scheduled drill, an overdue one); a chat failure is logged, never thrown. */
export async function alertOps(ctx: Pick<DrContext, 'chat' | 'config' | 'log'>, message: ChatMessage): Promise<void> {
  try {
    const ch = await ctx.chat.findChannel(ctx.config.ops.channel);
    if (!ch) throw new Error(`ops channel ${ctx.config.ops.channel} not found`);
    await ctx.chat.post(ch.id, message);
  } catch (err) {
    ctx.log.error({ err }, 'could not alert the ops channel about a drill');
  }
}

/**
 * The drill's messages: a headline in the channel (status, Cancel button), the ten steps in
 * its thread updated in place, and the report posted to the channel at the end. Chat failures
 * are logged and never stop a recovery.
 */
export class DrillThread {
  private channel: string | undefined;
  private headTs: string | undefined;
  private stepsTs: string | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private ctx: DrContext,
    private run: DrRun,
    private where: string | undefined,
  ) {}

  private async safe(label: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.ctx.log.warn({ err, run: this.run.id, op: label }, 'dr chat update failed');
    }
  }

  private async resolveChannel(): Promise<string | undefined> {
    const fallback = this.ctx.config.dr.channel ?? this.ctx.config.ops.channel;
    for (const name of [this.where, fallback]) {
      if (!name) continue;
      const ch = await this.ctx.chat.findChannel(name).catch(() => undefined);
      if (ch) return ch.id;
    }
    throw new Error(`no channel to post the drill in (tried ${[this.where, fallback].filter(Boolean).join(', ')})`);
  }

  async open(): Promise<void> {
    await this.safe('open', async () => {
      this.channel = await this.resolveChannel();
      if (!this.channel) return;
      const head = await this.ctx.chat.post(this.channel, view.drillHeadline(this.run));
      this.headTs = head.ts;
      const steps = await this.ctx.chat.post(this.channel, view.drillSteps(this.run), { threadTs: head.ts });
      this.stepsTs = steps.ts;
      await store.updateRun(this.ctx.pool, this.run.id, { channelId: this.channel, messageTs: head.ts, threadTs: steps.ts });
    });
  }

  /** Serialised so updates land in order even when steps finish quickly. */
  steps(run: DrRun): Promise<void> {
    const snapshot = { ...run, steps: run.steps.map((s) => ({ ...s })) };
    this.queue = this.queue.then(() =>
      this.safe('steps', async () => {
        if (this.channel && this.stepsTs) await this.ctx.chat.update(this.channel, this.stepsTs, view.drillSteps(snapshot));
      }),
    );
    return this.queue;
  }

  async finish(run: DrRun, outcome: DrillOutcome | undefined): Promise<void> {
    await this.queue;
    if (!this.channel) return;
    await this.safe('finish', async () => {
      if (this.stepsTs) await this.ctx.chat.update(this.channel!, this.stepsTs, view.drillSteps(run));
      if (this.headTs) await this.ctx.chat.update(this.channel!, this.headTs, view.drillHeadline(run));
      await this.ctx.chat.post(this.channel!, view.drillReport(run, outcome?.switchTraffic));
    });
  }
}
