import type { StoredEvent } from '../events/log.js';
import type { PostmortemAction } from '../templates/postmortem.js';

/**
 * The post-mortem's action list when follow-ups are wired in (src/followups, handed in by the
 * composition root): turns the incident's action notes into follow-ups and lists them live.
 */
export interface PostmortemActions {
  forPostmortem(incidentId: number, events: StoredEvent[]): Promise<PostmortemAction[]>;
}
