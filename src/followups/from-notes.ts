import type { StoredEvent } from '../events/log.js';
import { actionNoteText, parseActionText, type Followup } from './model.js';
import * as store from './store.js';
import type { FollowupDeps } from './deps.js';
import { recordFollowup } from './record-followup.js';

/**
 * Every `action:` note of the incident becomes a follow-up, once (keyed by the note's event):
 * called when a note is added, when the post-mortem is written and when follow-ups are
 * listed, so a note whose follow-up was missed (a replica died after the note) is caught up.
 * A note that does not parse (a bad date) stays a note and is reported back, not guessed at.
 */
export async function followupsFromNotes(d: FollowupDeps, incidentId: number, events: StoredEvent[], source: 'note' | 'postmortem'): Promise<{ created: Followup[]; unreadable: { eventId: number; error: string }[] }> {
  const done = await store.sourceEventIds(d.pool, incidentId);
  const created: Followup[] = [];
  const unreadable: { eventId: number; error: string }[] = [];
  for (const e of events) {
    if (e.type !== 'incident.note_added' || done.has(e.id)) continue;
    const text = actionNoteText(String(e.payload.text ?? ''));
    if (text === undefined) continue;
    const parsed = parseActionText(text);
    if ('error' in parsed) {
      unreadable.push({ eventId: e.id, error: parsed.error });
      continue;
    }
    const out = await recordFollowup(d, { incidentId, ...parsed, source, sourceEventId: e.id, actor: e.actor });
    if (out.created) created.push(out.followup);
  }
  return { created, unreadable };
}
