import type { ChatMessage, ChatSurface } from '../chat/surface.js';
import type { Logger } from '../log.js';
import type { FollowupsConfig } from './config.js';
import type { Followup } from './model.js';
import type { IssueText } from './tracker.js';
import { issueText, recordedReply, type IncidentRef } from '../templates/followups.js';

/** What the follow-ups area says, and to whom; the text is in src/templates/followups.ts. */
export class FollowupMessages {
  constructor(
    private chat: ChatSurface,
    private log: Logger,
    private config: FollowupsConfig,
    private publicUrl: string,
  ) {}

  /** The answer to the person who recorded a follow-up: what was recorded and what it lacks (an unlinked owner, a tracker login). */
  recorded(f: Followup, created: boolean): ChatMessage {
    const tracker = this.config.tracker === 'none' ? undefined : this.config.tracker;
    const logins = tracker === 'github' ? this.config.github.users : tracker === 'jira' ? this.config.jira.users : {};
    return recordedReply(f, created, { tracker: tracker === 'github' ? 'GitHub' : tracker === 'jira' ? 'Jira' : undefined, noTrackerLogin: !!f.ownerUserId && !logins[f.ownerUserId] });
  }

  /** Ephemeral where they acted (the incident channel), else a DM; a failure is logged, the follow-up stays recorded. */
  async tell(userId: string, channelId: string | null | undefined, message: ChatMessage | string): Promise<void> {
    const msg = typeof message === 'string' ? { text: message } : message;
    try {
      if (channelId) return await this.chat.postEphemeral(channelId, userId, msg);
      await this.chat.postDirect(userId, msg);
    } catch (err) {
      this.log.warn({ err, userId }, 'could not tell a person about their follow-up');
    }
  }

  /** The issue's text, with the owner named as chat shows them (a tracker reader does not know `U123`). */
  async issueText(f: Followup, incident: IncidentRef): Promise<IssueText> {
    let ownerName: string | undefined;
    if (f.ownerUserId) {
      try {
        ownerName = `@${(await this.chat.displayName?.(f.ownerUserId)) ?? f.ownerUserId}`;
      } catch {
        ownerName = `@${f.ownerUserId}`;
      }
    }
    return issueText(f, incident, ownerName, this.publicUrl);
  }
}
