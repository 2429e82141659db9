import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatSurface, MessageTag } from '../chat/surface.js';
import type { Job, JobQueue } from '../jobs/queue.js';
import { withTransaction } from '../db/pool.js';
import { claimOverdueReminders, getFollowup, incidentsDeclaredBetween, markReminderSent, openFollowups } from './overdue-store.js';
import { followupReminderMessage, weeklyDigestMessage } from '../templates/followup-reminders.js';

/**
 * Weekly overdue reminders and the weekly digest (issue #21). Both start from a scheduler slot
 * (once per slot across replicas) and do their chat work in durable jobs keyed by the ISO week,
 * so a second slot in the same week, a second replica or a retry never sends twice, and a
 * failed DM or post is retried rather than lost. Every post is tagged and a retry looks for it
 * first (Slack took it but the answer was lost).
 */
export const REMINDER_QUEUE = 'followup.reminder';
export const DIGEST_QUEUE = 'followup.digest';
/** Retries of one DM or digest: 30 s doubling to at most an hour, for about half a day. */
export const MAX_ATTEMPTS = 16;
export const retryDelayMs = (failed: number): number => Math.min(3_600_000, 30_000 * 2 ** Math.max(0, failed - 1));

export interface OverdueDeps {
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  jobs: Pick<JobQueue, 'enqueue'>;
  chat: Pick<ChatSurface, 'openDirect' | 'post' | 'findTagged' | 'findChannel'>;
  /** Channel (name or id) the digest goes to: `incidents.channel`. */
  digestChannel: string;
}

const utcDate = (d: Date): string => d.toISOString().slice(0, 10);

/** Monday (UTC) of the ISO week `d` falls in, yyyy-mm-dd: the key of a week's reminders and digest. */
export function weekOf(d: Date): string {
  const day = (d.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  return utcDate(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day)));
}

interface ReminderPayload {
  followupId: number;
  week: string;
  /** The slot's date: what "overdue" was judged against. */
  today: string;
}

/**
 * The reminders slot: claims this week's reminder of each overdue follow-up with an owner and
 * queues one DM job per claim, in one transaction (claim and job commit together or not at
 * all). Returns how many were queued. Follow-ups with no owner in chat are not claimed: the
 * digest lists them.
 */
export async function queueOverdueReminders(deps: OverdueDeps, slot: Date): Promise<number> {
  const week = weekOf(slot);
  const today = utcDate(slot);
  const now = deps.clock.now();
  return withTransaction(deps.pool, async (tx) => {
    const ids = await claimOverdueReminders(tx, week, today, now);
    for (const followupId of ids) {
      const payload: ReminderPayload = { followupId, week, today };
      await deps.jobs.enqueue(REMINDER_QUEUE, { ...payload }, { runAt: now, dedupeKey: `followup:${followupId}:reminder:${week}`, maxAttempts: MAX_ATTEMPTS }, tx);
    }
    deps.log.info({ action: 'followups.reminders_queued', week, count: ids.length }, 'overdue follow-up reminders queued');
    return ids.length;
  });
}

/** One reminder DM (the job). Skipped when the follow-up was closed, lost its owner or got a later due date since the claim. */
export async function sendOverdueReminder(deps: OverdueDeps, job: Job): Promise<'sent' | 'found' | 'skipped'> {
  const p = job.payload as unknown as ReminderPayload;
  const f = await getFollowup(deps.pool, p.followupId);
  if (!f || f.status !== 'open' || !f.ownerUserId || !f.dueOn || f.dueOn >= p.today) {
    deps.log.info({ action: 'followups.reminder_skipped', followupId: p.followupId, week: p.week }, 'follow-up no longer overdue or unowned: no reminder');
    return 'skipped';
  }
  const channel = await deps.chat.openDirect(f.ownerUserId);
  const tag: MessageTag = { incidentId: f.incidentId, step: `followup-reminder:${f.id}:${p.week}` };
  let outcome: 'sent' | 'found' = 'found';
  if (!(job.attempts > 1 && (await deps.chat.findTagged(channel, tag)))) {
    await deps.chat.post(channel, followupReminderMessage(f, p.today), { tag });
    outcome = 'sent';
  }
  await markReminderSent(deps.pool, f.id, p.week, deps.clock.now());
  deps.log.info({ action: 'followups.reminder_sent', followupId: f.id, incidentId: f.incidentId, week: p.week, outcome }, 'overdue follow-up reminded');
  return outcome;
}

interface DigestPayload {
  week: string;
  slot: string;
}

/** The digest slot: one digest job per ISO week, whichever replica or slot asks. */
export async function queueWeeklyDigest(deps: OverdueDeps, slot: Date): Promise<void> {
  const week = weekOf(slot);
  const payload: DigestPayload = { week, slot: slot.toISOString() };
  await deps.jobs.enqueue(DIGEST_QUEUE, { ...payload }, { runAt: deps.clock.now(), dedupeKey: `followups:digest:${week}`, maxAttempts: MAX_ATTEMPTS });
}

/**
 * The digest (the job): open and overdue follow-ups grouped by incident and owner, the overdue
 * ones nobody could be reminded of (no owner in chat), and the incidents declared in the seven
 * days before the slot. A missing channel throws, so the job retries once it exists.
 */
export async function postWeeklyDigest(deps: OverdueDeps, job: Job): Promise<'sent' | 'found'> {
  const p = job.payload as unknown as DigestPayload;
  const slot = new Date(p.slot);
  const ch = await deps.chat.findChannel(deps.digestChannel);
  if (!ch) throw new Error(`the follow-ups digest channel #${deps.digestChannel.replace(/^#/, '')} was not found (incidents.channel); invite Firebreak to it`);
  // Not one incident's message: incident 0 in the tag's incident field.
  const tag: MessageTag = { incidentId: 0, step: `followups-digest:${p.week}` };
  if (job.attempts > 1 && (await deps.chat.findTagged(ch.id, tag))) return 'found';
  const [open, lastWeek] = await Promise.all([
    openFollowups(deps.pool),
    incidentsDeclaredBetween(deps.pool, new Date(slot.getTime() - 7 * 86_400_000), slot),
  ]);
  await deps.chat.post(ch.id, weeklyDigestMessage({ week: p.week, today: utcDate(slot), open, lastWeek }), { tag });
  deps.log.info({ action: 'followups.digest_posted', week: p.week, open: open.length, incidents: lastWeek.length }, 'weekly follow-ups digest posted');
  return 'sent';
}
