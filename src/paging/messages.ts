import type { AppContext } from '../context.js';
import type { ChatMessage, PostedMessage } from '../chat/surface.js';
import type { Incident } from '../incidents/model.js';

/** A message already in chat (a page's notice, the failure message a Retry click came from). */
export interface MessageAt {
  channel: string;
  ts: string;
}

/**
 * Where paging posts: in the incident's channel, or the incidents channel while the war room
 * has none, and edits of a page's notice. The flows (service.ts) choose the message from
 * src/templates/paging.ts; this puts it in chat. A chat failure is logged, never thrown: the
 * page happened whether or not chat heard of it.
 */
export class PagingMessages {
  constructor(
    private readonly ctx: Pick<AppContext, 'chat' | 'config' | 'log'>,
    private readonly incidents: { postToIncident(incidentId: number, message: ChatMessage): Promise<PostedMessage | undefined> },
  ) {}

  /** Posts in the incident channel, or the incidents channel when the war room has none. */
  async tell(incident: Pick<Incident, 'id' | 'channelId'>, message: ChatMessage): Promise<PostedMessage | undefined> {
    let posted: PostedMessage | undefined;
    await this.safely(async () => {
      if (incident.channelId) return (posted = await this.incidents.postToIncident(incident.id, message));
      const fallback = await this.ctx.chat.findChannel(this.ctx.config.incidents.channel);
      if (fallback) posted = await this.ctx.chat.post(fallback.id, { ...message, text: `INC-${incident.id}: ${message.text}` });
    });
    return posted;
  }

  /** A retry's outcome replaces the message whose button started it; a new post if that is gone. */
  async replaceOrTell(incident: Pick<Incident, 'id' | 'channelId'>, retryOf: MessageAt | undefined, message: ChatMessage): Promise<PostedMessage | undefined> {
    if (retryOf) {
      try {
        await this.ctx.chat.update(retryOf.channel, retryOf.ts, message);
        return retryOf;
      } catch (err) {
        this.ctx.log.warn({ err, incidentId: incident.id }, 'paging: could not update the Retry paging message; posting instead');
      }
    }
    return this.tell(incident, message);
  }

  /** Edits a page's notice in place. */
  async edit(at: MessageAt, message: ChatMessage): Promise<void> {
    await this.safely(() => this.ctx.chat.update(at.channel, at.ts, message));
  }

  private async safely(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.ctx.log.warn({ err }, 'paging: chat message failed');
    }
  }
}
