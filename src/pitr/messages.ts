import type { ChatMessage, ChatSurface } from '../chat/surface.js';
import type { Logger } from '../log.js';

/** What posting needs; the CLI has no chat and no pager. */
export interface PitrMessagesDeps {
  chat?: Pick<ChatSurface, 'post' | 'update' | 'findChannel'>;
  pageOps?: (p: { dedupKey: string; summary: string; severity: 'critical' | 'error' | 'warning' }) => Promise<unknown>;
  /** Where ops notices go (name or id). */
  opsChannel: string;
  log: Logger;
}

/** Where a run's progress goes: a reply under this message (the command's reply). */
export interface Thread {
  channel: string;
  ts: string;
}

/**
 * Where the pitr area posts: problems to ops (paged, and said in the ops channel), and a run's
 * progress as one reply edited in place. The flows (flows.ts) choose the message from
 * src/templates/pitr.ts; this puts it in chat. Chat failures are logged, never stop a backup.
 */
export class PitrMessages {
  constructor(private readonly deps: PitrMessagesDeps) {}

  /** Pages ops (one dedup key per problem) and says it in the ops channel. */
  async alertOps(dedupKey: string, severity: 'critical' | 'error' | 'warning', m: ChatMessage): Promise<void> {
    await this.deps.pageOps?.({ dedupKey, summary: m.text, severity }).catch((err: unknown) => this.deps.log.error({ err }, 'could not page about a PITR problem'));
    await this.postOps(m);
  }

  async postOps(m: ChatMessage): Promise<void> {
    const chat = this.deps.chat;
    if (!chat) return;
    try {
      const ch = await chat.findChannel(this.deps.opsChannel);
      if (!ch) throw new Error(`ops channel ${this.deps.opsChannel} not found`);
      await chat.post(ch.id, m);
    } catch (err) {
      this.deps.log.error({ err, alert: m.text }, 'could not post a PITR notice to the ops channel');
    }
  }

  /** A reply in a thread that is edited in place; the final message replaces the progress. */
  threadReply(thread: Thread | undefined): (m: ChatMessage, final?: boolean) => Promise<void> {
    let ts: string | undefined;
    let chain = Promise.resolve();
    const chat = this.deps.chat;
    return (m, final = false) => {
      if (!thread || !chat) return Promise.resolve();
      chain = chain.then(async () => {
        if (ts) await chat.update(thread.channel, ts, m);
        else ts = (await chat.post(thread.channel, m, { threadTs: thread.ts })).ts;
      }).catch((err: unknown) => this.deps.log.warn({ err, final }, 'could not update a PITR thread'));
      return chain;
    };
  }
}
