import type { ViewHandler } from '../chat/interactions.js';
import type { IncidentService } from '../incidents/service.js';
import type { ChatSurface, ChatMessage } from '../chat/surface.js';
import { parseSeverity } from '../incidents/model.js';
import { declaredReply, duplicateReply } from '../templates/incidents.js';
import { MAX_TITLE } from '../commands/incident.js';

/** Answers a modal's submitter where they opened it, or by DM when we don't know where. */
async function tell(chat: ChatSurface, user: string, channelId: string | undefined, msg: ChatMessage): Promise<void> {
  if (channelId) {
    try {
      return await chat.postEphemeral(channelId, user, msg);
    } catch {
      /* the bot may not be in that channel: fall back to a DM */
    }
  }
  await chat.postDirect(user, msg);
}

export function declareViewHandler(incidents: IncidentService): ViewHandler {
  return async (sub, ctx) => {
    const title = (sub.values.title ?? '').trim();
    const severity = parseSeverity(sub.values.severity);
    const errors: Record<string, string> = {};
    if (!title) errors.title = 'Give the incident a short title.';
    else if (title.length > MAX_TITLE) errors.title = `Keep the title under ${MAX_TITLE} characters.`;
    if (!severity) errors.severity = 'Pick a severity from P0 to P4.';
    if (Object.keys(errors).length) return errors;
    let channelId: string | undefined;
    try {
      channelId = (JSON.parse(sub.privateMetadata || '{}') as { channelId?: string }).channelId;
    } catch {
      channelId = undefined;
    }
    const user = sub.actor.userId;
    const out = await incidents.declare(
      {
        title, severity: severity!, actor: user, requestKey: sub.requestKey,
        summary: sub.values.summary?.trim() || undefined, service: sub.values.service?.trim() || undefined,
      },
      (r) => tell(ctx.chat, user, channelId, declaredReply(r.incident, r.problems)),
    );
    if (out.status === 'duplicate') ctx.background('tell duplicate', () => tell(ctx.chat, user, channelId, duplicateReply(out.incident)));
  };
}
