import type { Semaphore } from '../jobs/background.js';
import type { AppContext } from '../context.js';
import type { Severity } from './config.js';
import type { Incident } from './model.js';
import type { ReplyAddress } from '../chat/interactions.js';
import { appendEvent } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import { enqueueSetup } from './setup.js';
import { scheduleReminder } from './reminders.js';
import { isPerson } from './change.js';
import * as store from './store.js';

export interface DeclareInput {
  title: string;
  severity: Severity;
  summary?: string;
  service?: string;
  /** Slack user id of the declarer, or `firebreak` / `alert:<source>` for automation. */
  actor: string;
  /** Idempotency: the same key never declares twice (Slack retry, alert group). */
  requestKey?: string;
  /** Where to tell the declarer how the war-room setup went (from whichever replica runs it). */
  notify?: ReplyAddress;
}

export type DeclareOutcome =
  | { status: 'declared'; incident: Incident; setupJobId?: number }
  | { status: 'duplicate'; incident: Incident };

/**
 * Declare: record the incident and its war-room setup job in one transaction (fast) and
 * return; the setup job (channel, invitations, headline, drafts, announcement, page, see
 * setup.ts) starts at once on this replica and is finished by any replica if this one dies.
 * Slack retries and double submissions come back as `duplicate` with the incident that exists.
 */
export async function declareIncident(ctx: AppContext, warRooms: Semaphore, input: DeclareInput): Promise<DeclareOutcome> {
  const out = await recordDeclare(ctx, input);
  if (out.status === 'declared' && out.setupJobId) {
    const jobId = out.setupJobId;
    ctx.background.run(`open war room INC-${out.incident.id}`, async () => {
      await warRooms.use(() => ctx.jobs.runNow(jobId));
    });
  }
  return out;
}

async function recordDeclare(ctx: AppContext, input: DeclareInput): Promise<DeclareOutcome> {
  const now = ctx.clock.now();
  const cfg = ctx.config.incidents;
  const key = input.requestKey ? `declare:${input.requestKey}` : null;
  if (key) {
    const existing = await store.incidentByDeclareKey(ctx.pool, key);
    if (existing) return { status: 'duplicate', incident: existing };
  }
  const since = new Date(now.getTime() - cfg.duplicateWindowSeconds * 1000);
  let duplicate: Incident | undefined;
  let setupJobId: number | null = null;
  const incident = await withTransaction(ctx.pool, async (tx) => {
    // Two submissions racing each other must see each other: serialise per declarer+title.
    await store.lockKey(tx, `declare:${input.actor}:${input.title.toLowerCase()}`);
    duplicate = await store.recentDuplicate(tx, input.actor, input.title, since);
    if (duplicate) return undefined;
    const created = await store.insertIncident(tx, {
      title: input.title, severity: input.severity, summary: input.summary, service: input.service,
      declaredBy: input.actor, declaredAt: now, declareKey: key,
      // A person who declares commands until they hand over; automation leaves it open.
      commander: isPerson(input.actor) ? input.actor : null,
    });
    if (!created) return undefined;
    await appendEvent(tx, {
      type: 'incident.declared', actor: input.actor, at: now, incidentId: created.id,
      payload: { title: created.title, severity: created.severity, summary: created.summary, service: created.service },
    });
    await scheduleReminder(ctx, created, tx);
    setupJobId = await enqueueSetup(ctx, { incidentId: created.id, notify: input.notify }, tx);
    return created;
  });
  if (duplicate) return { status: 'duplicate', incident: duplicate };
  if (!incident) return { status: 'duplicate', incident: (await store.incidentByDeclareKey(ctx.pool, key!))! };
  return { status: 'declared', incident, setupJobId: setupJobId ?? undefined };
}
