import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { AppContext } from '../context.js';
import type { Job } from '../jobs/queue.js';
import type { Incident } from './model.js';
import type { ChatMessage } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import { lockForReminder, updateIncident } from './store.js';
import { escalationMessage, reminderMessage } from '../templates/incidents.js';

/**
 * Update reminders. Each incident with a cadence has one pending job in the Postgres job
 * queue, due one cadence after the last update (or after the previous reminder). The job
 * carries the state it was scheduled for; running it is a compare-and-set on the incident
 * row, so a stale job (an update came in), a second copy, or a second replica does nothing.
 */
export const REMINDER_QUEUE = 'incident.reminder';

/** When reminders escalate to the announcement channels: after two went unanswered. */
export const ESCALATE_AT = 3;

const keyPrefix = (incidentId: number) => `incident:${incidentId}:reminder:`;

interface ReminderPayload {
  incidentId: number;
  /** The last update (or declare) the cadence counts from, ISO. */
  base: string;
  /** missed_reminders when the job was scheduled. */
  missed: number;
}

export function cadenceMinutes(ctx: AppContext, i: Incident): number | null {
  return ctx.config.incidents.severities[i.severity].updateCadenceMinutes;
}

const baseOf = (i: Incident): Date => i.lastUpdateAt ?? i.declaredAt;

/** When the next reminder is due, or null when this incident gets none. */
export function nextReminderDue(ctx: AppContext, i: Incident): Date | null {
  const cadence = cadenceMinutes(ctx, i);
  if (cadence === null || i.status === 'resolved') return null;
  return new Date(baseOf(i).getTime() + cadence * 60_000 * (i.missedReminders + 1));
}

/**
 * Replaces the incident's pending reminder with one matching its current state. Pass the
 * transaction client when the state change is not committed yet, so both commit together.
 */
export async function scheduleReminder(ctx: AppContext, i: Incident, db: pg.Pool | pg.PoolClient = ctx.pool): Promise<void> {
  await ctx.jobs.cancel(keyPrefix(i.id), db);
  const due = nextReminderDue(ctx, i);
  if (!due) return;
  await enqueueReminder(ctx, i, due, db);
}

/** One reminder job for the incident's current state, due at `runAt`. */
async function enqueueReminder(ctx: AppContext, i: Incident, runAt: Date, db: pg.Pool | pg.PoolClient): Promise<void> {
  const payload: ReminderPayload = { incidentId: i.id, base: baseOf(i).toISOString(), missed: i.missedReminders };
  // A fresh key per schedule: correctness comes from the compare-and-set, not the key.
  await ctx.jobs.enqueue(REMINDER_QUEUE, { ...payload }, { runAt, dedupeKey: keyPrefix(i.id) + randomUUID(), maxAttempts: 10 }, db);
}

export async function cancelReminders(ctx: AppContext, incidentId: number, db: pg.Pool | pg.PoolClient = ctx.pool): Promise<void> {
  await ctx.jobs.cancel(keyPrefix(incidentId), db);
}

/** How reminders post: once per reminder, a retry finding what an earlier attempt posted (IncidentMessages). */
export interface ReminderPosts {
  postOnce(run: { incidentId: number; requestKey?: string; resumed: boolean }, name: string, channel: string, message: ChatMessage): Promise<void>;
}

/** The job handler. Returns the incident after a reminder went out, for the headline. */
export async function runReminder(ctx: AppContext, posts: ReminderPosts, job: Job): Promise<Incident | undefined> {
  const p = job.payload as unknown as ReminderPayload;
  const now = ctx.clock.now();
  return withTransaction(ctx.pool, async (tx) => {
    // Locks the row: a concurrent update waits for this reminder and then resets the count.
    const i = await lockForReminder(tx, p.incidentId, p.missed, new Date(p.base));
    if (!i) return undefined; // stale: an update, a resolve, or another copy already ran
    const due = nextReminderDue(ctx, i);
    if (!due) return undefined;
    if (due.getTime() > now.getTime()) {
      // The cadence grew (severity lowered) after this job was queued: wait for the new due time.
      await scheduleReminder(ctx, i, tx);
      return undefined;
    }
    if (!i.channelId) {
      // The war room is still being set up (Slack down, setup queued): a reminder recorded now
      // would be posted nowhere. Ask again in a minute; the compare-and-set above drops it if
      // an update or resolve comes first.
      await enqueueReminder(ctx, i, new Date(now.getTime() + 60_000), tx);
      return undefined;
    }
    const missed = i.missedReminders + 1;
    const minutes = Math.round((now.getTime() - baseOf(i).getTime()) / 60_000);
    const after = await updateIncident(tx, i.id, { missedReminders: missed });
    // Each post is tagged with this reminder (the cadence base and its number). A retry (the
    // commit below failed in a PostgreSQL restart, or Slack took the post but the answer was
    // lost) looks for what the earlier attempt posted instead of posting it again.
    const run = { incidentId: i.id, requestKey: `${p.base}:${missed}`, resumed: job.attempts > 1 };
    // Chat first, events last: the event chain's lock is then held only for the inserts.
    await posts.postOnce(run, 'reminder', i.channelId, reminderMessage(after, minutes, missed));
    const escalatedTo: string[] = [];
    if (missed === ESCALATE_AT) {
      const cfg = ctx.config.incidents;
      for (const target of new Set([cfg.channel, ...cfg.severities[i.severity].announce])) {
        const ch = await ctx.chat.findChannel(target);
        if (!ch) {
          ctx.log.warn({ incidentId: i.id, channel: target }, 'escalation channel not found');
          continue;
        }
        await posts.postOnce(run, 'reminder-escalation', ch.id, escalationMessage(after, minutes, missed));
        escalatedTo.push(ch.id);
      }
    }
    await appendEvent(tx, { type: 'incident.reminder_sent', actor: 'firebreak', at: now, incidentId: i.id, payload: { missed, minutes, commander: i.commander } });
    if (missed === ESCALATE_AT) {
      await appendEvent(tx, { type: 'incident.reminder_escalated', actor: 'firebreak', at: now, incidentId: i.id, payload: { missed: missed - 1, minutes, channels: escalatedTo } });
    }
    await scheduleReminder(ctx, after, tx);
    return after;
  });
}
