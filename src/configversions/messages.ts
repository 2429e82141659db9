/** What configuration versions post: notices in the ops channel (rendered by src/templates/configversions.ts). */
import type { ChatSurface } from '../chat/surface.js';
import type { Logger } from '../log.js';
import { escapeMrkdwn, messageText, section } from '../templates/blocks.js';

/** Where the area tells people what happened to the running configuration. */
export interface ConfigNotices {
  /** Plain text for the ops channel; never throws (a failed post is logged). */
  ops(text: string): Promise<void>;
}

export class ConfigMessages implements ConfigNotices {
  constructor(private readonly d: { chat: ChatSurface; log: Logger; opsChannel: () => string }) {}

  async ops(text: string): Promise<void> {
    try {
      const ch = await this.d.chat.findChannel(this.d.opsChannel());
      if (!ch) throw new Error(`ops channel ${this.d.opsChannel()} not found`);
      await this.d.chat.post(ch.id, { text: messageText(text), blocks: [section(escapeMrkdwn(text))] });
    } catch (err) {
      this.d.log.warn({ err, notice: text }, 'could not post a configuration notice in the ops channel');
    }
  }
}

/** For the CLI, which has no chat: the notice goes to the log. */
export const logNotices = (log: Logger): ConfigNotices => ({ ops: async (text) => log.warn({ notice: text }, 'configuration notice') });
