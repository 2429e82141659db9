import type { ChatMessage, ChatSurface } from '../chat/surface.js';
import type { Logger } from '../log.js';
import type { OpsPager } from '../paging/ops-pager.js';
import type { BackupRecord } from './model.js';
import * as view from '../templates/backups.js';

/** Where a backup's progress goes: a reply under this message (the `/backup now` reply or the ops announcement). */
export interface ProgressThread {
  channel: string;
  ts: string;
}

/** What posting needs; the CLI has no chat and no pager (it prints instead). */
export interface BackupMessagesContext {
  config: { ops: { channel: string } };
  log: Logger;
  chat?: ChatSurface;
  paging?: Pick<OpsPager, 'pageOps'>;
}

/**
 * One backup's progress reply: edited in place while it runs, ending as the summary, and the
 * message it hangs under says how it ended. Without chat or thread it says nothing.
 */
export class ProgressReply {
  private ts: string | undefined;
  private last = Promise.resolve();

  constructor(private readonly ctx: BackupMessagesContext, private readonly thread: ProgressThread | undefined) {}

  say(m: ChatMessage): void {
    const { chat } = this.ctx;
    const thread = this.thread;
    if (!thread || !chat) return;
    // Edits are chained so a slow chat API never reorders them or piles them up.
    this.last = this.last.then(async () => {
      if (this.ts) await chat.update(thread.channel, this.ts, m);
      else this.ts = (await chat.post(thread.channel, m, { threadTs: thread.ts })).ts;
    }).catch((err: unknown) => this.ctx.log.warn({ err }, 'could not update the backup progress message'));
  }

  /** Nothing is left reading "dumping … so far" after the run. */
  async finish(record: BackupRecord): Promise<void> {
    await this.last;
    const { chat } = this.ctx;
    const thread = this.thread;
    if (!thread || !chat) return;
    const summary = view.backupSummary(record);
    await (this.ts ? chat.update(thread.channel, this.ts, summary) : chat.post(thread.channel, summary, { threadTs: thread.ts }))
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'could not post the backup summary'));
    await chat.update(thread.channel, thread.ts, view.backupFinished(record))
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'could not mark the backup message finished'));
  }
}

/** A scheduled run announces itself in the ops channel; its progress goes in a thread there. */
export async function announceScheduledBackup(ctx: BackupMessagesContext, database: string, requestedBy: string): Promise<ProgressThread | undefined> {
  const chat = ctx.chat;
  if (!chat) return undefined;
  try {
    const ops = await chat.findChannel(ctx.config.ops.channel);
    if (!ops) return undefined;
    const posted = await chat.post(ops.id, view.backupStarted(database, requestedBy));
    return { channel: posted.channel, ts: posted.ts };
  } catch (err) {
    ctx.log.warn({ err }, 'could not announce a scheduled backup in the ops channel');
    return undefined;
  }
}

/**
 * Posts to the ops channel and, when PagerDuty is configured, pages: a failed or stale
 * backup is exactly what someone must hear about at night. `page.dedupKey` folds repeats of
 * the same problem into one open PagerDuty alert.
 */
export async function alertOps(ctx: BackupMessagesContext, message: ChatMessage, page?: { dedupKey: string; severity: 'critical' | 'error' | 'warning' }, opts: { chat?: boolean } = {}): Promise<void> {
  if (page) {
    await ctx.paging?.pageOps({ dedupKey: page.dedupKey, summary: message.text, severity: page.severity })
      .catch((err: unknown) => ctx.log.error({ err }, 'could not queue a page about a backup problem'));
  }
  if (!ctx.chat || opts.chat === false) return;
  try {
    const ch = await ctx.chat.findChannel(ctx.config.ops.channel);
    if (!ch) throw new Error(`ops channel ${ctx.config.ops.channel} not found`);
    await ctx.chat.post(ch.id, message);
  } catch (err) {
    ctx.log.error({ err, alert: message.text }, 'could not post a backup alert to the ops channel');
  }
}

export async function isOpsChannel(ctx: BackupMessagesContext, channel: string): Promise<boolean> {
  const ops = await ctx.chat?.findChannel(ctx.config.ops.channel).catch(() => undefined);
  return ops?.id === channel;
}

/** A failed backup is told in the ops channel and paged; an interrupted one (a deploy, a shutdown) is told but wakes nobody. */
export async function alertBackupFailed(ctx: BackupMessagesContext, record: BackupRecord, thread: ProgressThread | undefined): Promise<void> {
  // When the run's own thread is in the ops channel, its message already says FAILED there: page only.
  const inOps = thread ? await isOpsChannel(ctx, thread.channel) : false;
  await alertOps(ctx, view.backupFailed(record), record.status === 'interrupted' ? undefined : { dedupKey: `backup-failed:${record.database}`, severity: 'error' }, { chat: !inOps });
}
