/**
 * What the status page area posts in chat: the note in the incident channel that an approved
 * update went public, and the offer of the resolved notice when the incident is resolved while
 * its public incident is open. Both are tagged and looked for first, so a retried job never
 * posts them twice. Rendered by src/templates/statuspage.ts.
 */
import type { ChatSurface } from '../chat/surface.js';
import type { Incident } from '../incidents/model.js';
import { publishedNote, resolvedNoticeOffer, syncFailedNote } from '../templates/statuspage.js';
import type { PublicStatus } from './model.js';
import { publicLink } from './page.js';

export class StatusPageMessages {
  constructor(private d: { chat: ChatSurface; publicUrl: string }) {}

  private async postOnce(i: Incident, step: string, message: Parameters<ChatSurface['post']>[1]): Promise<void> {
    if (!i.channelId) return;
    const tag = { incidentId: i.id, step };
    if (await this.d.chat.findTagged(i.channelId, tag)) return;
    await this.d.chat.post(i.channelId, message, { tag });
  }

  async published(i: Incident, statusIncidentId: number, updateId: number, status: PublicStatus): Promise<void> {
    await this.postOnce(i, `statuspage:published:${updateId}`, publishedNote({ incidentId: i.id, status, url: publicLink(this.d.publicUrl, `/status/incidents/${statusIncidentId}`) }));
  }

  /** Once per update that gave up (`updateId`: the newest one left unsynced). */
  async syncFailed(i: Incident, updateId: number, reason: string): Promise<void> {
    await this.postOnce(i, `statuspage:sync-failed:${updateId}`, syncFailedNote(reason));
  }

  /** Once per resolution (`resolvedAt` tells two resolutions of a reopened incident apart). */
  async offerResolvedNotice(i: Incident, publicTitle: string): Promise<void> {
    await this.postOnce(i, `statuspage:offer-resolved:${i.resolvedAt?.getTime() ?? 0}`, resolvedNoticeOffer(i.id, publicTitle));
  }
}
