import type { AppContext } from '../context.js';
import type { ChannelRef, ChatMessage, PostedMessage } from '../chat/surface.js';
import type { AlertGroup, StoredAlert } from './model.js';
import { alertGroupMessage, escalationNotice, goneChannelReport, groupResolvedInIncident, groupTitle, stillFiringMessage, type GroupView } from '../templates/alerts.js';

/**
 * The tag a group's message carries (Slack message metadata), so a retry can find a message
 * an interrupted attempt posted. Tags name an incident and a step; group messages belong to no
 * incident (0) and their step names the group and its episode (when it started): each episode
 * has its own message, and a retry in a new episode must not find the last one's and write
 * over that record.
 */
const groupMessageTag = (g: Pick<AlertGroup, 'id' | 'createdAt'>) => ({ incidentId: 0, step: `alert-group:${g.id}:${g.createdAt.getTime()}` });

const bareName = (c: string) => c.replace(/^#/, '');

/** Where a group's message is: the channel id and the message's ts. */
export interface PostedAt {
  channelId: string;
  ts: string;
}

/**
 * Everything the alerts area posts: the group message (posted once, then edited in place), its
 * reminders and escalation notices in the thread, the note in an incident whose alerts all
 * resolved, and the ops report about a channel alerts cannot reach. The outbox (service.ts)
 * decides when; this says it in chat.
 */
export class AlertMessages {
  /** Channels already reported gone by this process: one report each, not one per group. */
  private reportedChannels = new Set<string>();

  constructor(
    private readonly ctx: Pick<AppContext, 'chat' | 'config' | 'log'>,
    private readonly incidents: { postToIncident(incidentId: number, message: ChatMessage): Promise<unknown> },
  ) {}

  /** A group's message as it should look now. */
  render(view: GroupView): ChatMessage {
    return alertGroupMessage(view);
  }

  findChannel(nameOrId: string): Promise<ChannelRef | undefined> {
    return this.ctx.chat.findChannel(nameOrId);
  }

  /** The group message an earlier, interrupted attempt posted in this channel, if any (by tag). */
  findEarlier(channelId: string, group: Pick<AlertGroup, 'id' | 'createdAt'>): Promise<PostedMessage | undefined> {
    return this.ctx.chat.findTagged(channelId, groupMessageTag(group));
  }

  /** Posts the first message of a group's episode, tagged so a retry finds it. */
  postGroup(channelId: string, group: Pick<AlertGroup, 'id' | 'createdAt'>, message: ChatMessage): Promise<PostedMessage> {
    return this.ctx.chat.post(channelId, message, { tag: groupMessageTag(group) });
  }

  /** Edits a group's message in place. */
  updateGroup(channelId: string, ts: string, message: ChatMessage): Promise<void> {
    return this.ctx.chat.update(channelId, ts, message);
  }

  /** Posts a group's message again (someone deleted it). */
  repostGroup(channelId: string, message: ChatMessage): Promise<PostedMessage> {
    return this.ctx.chat.post(channelId, message);
  }

  async remind(at: PostedAt, firing: number, repeatMs: number): Promise<void> {
    await this.ctx.chat.post(at.channelId, stillFiringMessage(firing, repeatMs), { threadTs: at.ts });
  }

  async escalated(at: PostedAt, firing: number, afterMs: number, outcome: string): Promise<void> {
    await this.ctx.chat.post(at.channelId, escalationNotice(firing, afterMs, outcome), { threadTs: at.ts });
  }

  async resolvedInIncident(incidentId: number, g: AlertGroup, alerts: StoredAlert[]): Promise<void> {
    await this.incidents.postToIncident(incidentId, groupResolvedInIncident(groupTitle(g, alerts), g.id));
  }

  /** Tells the ops channel (once per channel per process) what to create or change; never throws. */
  async reportGoneChannel(channel: string, code: string): Promise<void> {
    if (this.reportedChannels.has(channel)) return;
    this.reportedChannels.add(channel);
    try {
      const ops = await this.ctx.chat.findChannel(this.ctx.config.ops.channel);
      if (!ops || bareName(channel) === bareName(ops.name)) return;
      await this.ctx.chat.post(ops.id, goneChannelReport(bareName(channel), code));
    } catch (err) {
      this.ctx.log.warn({ err }, 'could not tell the ops channel about a missing alert channel');
    }
  }
}
