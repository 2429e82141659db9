import type { AppContext } from '../module.js';
import type { Severity } from './config.js';
import type { Incident } from './model.js';
import { ChatError, type ChatMessage } from '../chat/surface.js';
import { appendEvent } from '../events/log.js';
import { withTransaction } from '../db/pool.js';
import { channelNameFor, withSuffix } from './channel-name.js';
import * as store from './store.js';
import { announcement, channelPurpose, channelTopic, headline, type HeadlineExtras } from '../templates/incidents.js';
import { commsMessage } from '../templates/comms.js';

export interface DeclareInput {
  title: string;
  severity: Severity;
  summary?: string;
  service?: string;
  /** Slack user id of the declarer, or `firebreak` / `alert:<source>` for automation. */
  actor: string;
  /** Idempotency: the same key never declares twice (Slack retry, alert group). */
  requestKey?: string;
}

export type DeclareOutcome =
  | { status: 'declared'; incident: Incident }
  | { status: 'duplicate'; incident: Incident };

export interface WarRoomResult {
  incident: Incident;
  /** Human-readable failures, one per failed step; empty when everything worked. */
  problems: string[];
}

const MAX_NAME_ATTEMPTS = 20;

function describeChatError(step: string, e: unknown): string {
  const code = e instanceof ChatError ? e.code : (e as Error).message;
  const hint: Record<string, string> = {
    missing_scope: 'the Slack app lacks a scope — reinstall it from manifest.yml',
    not_authed: 'the bot token is missing or revoked',
    invalid_auth: 'the bot token is invalid',
    ratelimited: 'Slack is rate limiting us; retry in a minute',
    channel_not_found: 'the channel does not exist or the bot cannot see it',
    restricted_action: 'a workspace policy stops the bot from doing this',
    user_not_found: 'a responder id in the config is not a user of this workspace',
  };
  return `${step}: ${code}${hint[code] ? ` (${hint[code]})` : ''}`;
}

/** Incident use cases. Surface-neutral: talks to people only through ctx.chat. */
export class IncidentService {
  constructor(readonly ctx: AppContext) {}

  get(id: number): Promise<Incident | undefined> {
    return store.getIncident(this.ctx.pool, id);
  }

  byChannel(channelId: string): Promise<Incident | undefined> {
    return store.incidentByChannel(this.ctx.pool, channelId);
  }

  open(): Promise<Incident[]> {
    return store.openIncidents(this.ctx.pool);
  }

  /**
   * Records the incident (fast: one transaction) and returns; the channel, invitations,
   * headline and announcement follow in the background, then `onReady` hears how that went
   * and the `incident.declared` hook fires (paging listens). Slack retries and double
   * submissions come back as `duplicate` with the incident that already exists.
   */
  async declare(input: DeclareInput, onReady?: (r: WarRoomResult) => Promise<void>): Promise<DeclareOutcome> {
    const out = await this.record(input);
    if (out.status === 'declared') {
      const id = out.incident.id;
      this.ctx.background.run(`open war room INC-${id}`, async () => {
        const r = await this.openWarRoom(id);
        await this.ctx.hooks.emit('incident.declared', { incident: r.incident, actor: input.actor });
        await onReady?.(r);
      });
    }
    return out;
  }

  private async record(input: DeclareInput): Promise<DeclareOutcome> {
    const now = this.ctx.clock.now();
    const cfg = this.ctx.config.incidents;
    const key = input.requestKey ? `declare:${input.requestKey}` : null;
    if (key) {
      const existing = await store.incidentByDeclareKey(this.ctx.pool, key);
      if (existing) return { status: 'duplicate', incident: existing };
    }
    const since = new Date(now.getTime() - cfg.duplicateWindowSeconds * 1000);
    let duplicate: Incident | undefined;
    const incident = await withTransaction(this.ctx.pool, async (tx) => {
      // Two submissions racing each other must see each other: serialise per declarer+title.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`declare:${input.actor}:${input.title.toLowerCase()}`]);
      duplicate = await store.recentDuplicate(tx, input.actor, input.title, since);
      if (duplicate) return undefined;
      const created = await store.insertIncident(tx, {
        title: input.title, severity: input.severity, summary: input.summary, service: input.service,
        declaredBy: input.actor, declaredAt: now, declareKey: key,
        // A person who declares commands until they hand over; automation leaves it open.
        commander: /^[UW][A-Z0-9]+$/.test(input.actor) ? input.actor : null,
      });
      if (!created) return undefined;
      await appendEvent(tx, {
        type: 'incident.declared', actor: input.actor, at: now, incidentId: created.id,
        payload: { title: created.title, severity: created.severity, summary: created.summary, service: created.service },
      });
      return created;
    });
    if (duplicate) return { status: 'duplicate', incident: duplicate };
    if (!incident) return { status: 'duplicate', incident: (await store.incidentByDeclareKey(this.ctx.pool, key!))! };
    return { status: 'declared', incident };
  }

  /** Records a setup step as a timeline event. */
  private async step(i: Incident, type: string, payload: Record<string, unknown> = {}): Promise<void> {
    await appendEvent(this.ctx.pool, { type, actor: 'firebreak', at: this.ctx.clock.now(), incidentId: i.id, payload });
  }

  /**
   * Marks the first response (a person acting on the incident, or a PagerDuty ack). Only
   * the first call sets acknowledged_at, so MTTA measures the first response, not the last.
   */
  async acknowledge(incidentId: number, actor: string, source: string, at?: Date): Promise<Incident | undefined> {
    const when = at ?? this.ctx.clock.now();
    const acked = await withTransaction(this.ctx.pool, async (tx) => {
      const { rows } = await tx.query<{ id: number }>(
        'UPDATE incidents SET acknowledged_at = $2 WHERE id = $1 AND acknowledged_at IS NULL RETURNING id',
        [incidentId, when],
      );
      if (!rows[0]) return false;
      await appendEvent(tx, { type: 'incident.acknowledged', actor, at: when, incidentId, payload: { source } });
      return true;
    });
    const i = await this.get(incidentId);
    if (acked && i) await this.refreshHeadlineQuietly(i);
    return i;
  }

  /**
   * Appends an entry to the incident's timeline from another area (pages, escalations,
   * alerts attached). `kind` is the event type; `payload.text`, when present, is the line
   * the timeline and post-mortem show.
   */
  async recordTimeline(incidentId: number, kind: string, actor: string, payload: Record<string, unknown>): Promise<void> {
    await appendEvent(this.ctx.pool, { type: kind, actor, at: this.ctx.clock.now(), incidentId, payload });
  }

  /** Posts in the incident's channel; logs and skips when the channel was never created. */
  async postToIncident(incidentId: number, message: ChatMessage): Promise<void> {
    const i = await this.get(incidentId);
    if (!i?.channelId) {
      this.ctx.log.warn({ incidentId }, 'incident has no channel to post in');
      return;
    }
    await this.ctx.chat.post(i.channelId, message);
  }

  /** Headline refresh that never fails the change that triggered it: the state is already saved. */
  async refreshHeadlineQuietly(i: Incident): Promise<void> {
    try {
      await this.refreshHeadline(i);
    } catch (err) {
      this.ctx.log.warn({ err, incidentId: i.id }, 'headline refresh failed');
    }
  }

  headlineExtras(): HeadlineExtras {
    const p = this.ctx.services.paging;
    return { paging: p?.enabled() ? 'on (PagerDuty)' : 'off (no PagerDuty key configured)' };
  }

  /** Re-renders the headline message so it always shows the current state. */
  async refreshHeadline(i: Incident): Promise<void> {
    if (!i.channelId || !i.headlineTs) return;
    await this.ctx.chat.update(i.channelId, i.headlineTs, headline(i, this.headlineExtras()));
  }

  /**
   * Creates the incident channel and everything in it, skipping steps already done, so a
   * retry after a failure (`/incident setup <id>`) picks up where it stopped. A failed
   * step is recorded on the incident and reported; the incident itself is never lost.
   */
  async openWarRoom(incidentId: number): Promise<WarRoomResult> {
    const { chat, config } = this.ctx;
    let i = (await this.get(incidentId))!;
    const problems: string[] = [];
    const errors: Record<string, string> = {};
    const fail = (step: string, e: unknown) => {
      const msg = describeChatError(step, e);
      problems.push(msg);
      errors[step] = e instanceof ChatError ? e.code : (e as Error).message;
      this.ctx.log.warn({ incidentId, step, err: e }, 'incident setup step failed');
    };

    if (!i.channelId) {
      const base = channelNameFor(config.incidents.channelNameTemplate, i);
      for (let n = 1; n <= MAX_NAME_ATTEMPTS && !i.channelId; n++) {
        const name = n === MAX_NAME_ATTEMPTS ? withSuffix(base, i.id) : withSuffix(base, n);
        try {
          const ch = await chat.createChannel(name);
          i = await store.updateIncident(this.ctx.pool, i.id, { channelId: ch.id, channelName: ch.name });
          await this.step(i, 'incident.channel_created', { channel: ch.id, name: ch.name });
        } catch (e) {
          if (e instanceof ChatError && e.code === 'name_taken') continue;
          fail('create channel', e);
          break;
        }
      }
    }

    if (i.channelId) {
      const channel = i.channelId;
      if (!i.headlineTs) {
        try {
          await chat.setTopic(channel, channelTopic(i));
          await chat.setPurpose(channel, channelPurpose(i));
        } catch (e) {
          fail('set topic', e);
        }
        try {
          const invited = await this.invite(i);
          if (invited.length) await this.step(i, 'incident.responders_invited', { users: invited });
        } catch (e) {
          fail('invite responders', e);
        }
        try {
          const posted = await chat.post(channel, headline(i, this.headlineExtras()));
          i = await store.updateIncident(this.ctx.pool, i.id, { headlineTs: posted.ts });
          await this.step(i, 'incident.headline_posted', { ts: posted.ts });
          for (const kind of config.incidents.severities[i.severity].templates) {
            await chat.post(channel, commsMessage(kind, i), { threadTs: posted.ts });
          }
        } catch (e) {
          fail('post headline', e);
        }
      }
      if (!(await this.wasAnnounced(i))) {
        try {
          await this.announce(i);
        } catch (e) {
          fail('announce', e);
        }
      }
    }

    i = await store.updateIncident(this.ctx.pool, i.id, { setupErrors: errors });
    if (problems.length) await this.step(i, 'incident.setup_failed', { errors });
    return { incident: i, problems };
  }

  private async invite(i: Incident): Promise<string[]> {
    const policy = this.ctx.config.incidents.severities[i.severity];
    const users = new Set<string>(policy.responders);
    if (/^[UW][A-Z0-9]+$/.test(i.declaredBy)) users.add(i.declaredBy);
    for (const g of policy.userGroups) for (const u of await this.ctx.chat.userGroupMembers(g)) users.add(u);
    const list = [...users];
    if (list.length) await this.ctx.chat.invite(i.channelId!, list);
    return list;
  }

  private async wasAnnounced(i: Incident): Promise<boolean> {
    const { rowCount } = await this.ctx.pool.query("SELECT 1 FROM events WHERE incident_id = $1 AND type = 'incident.announced'", [i.id]);
    return (rowCount ?? 0) > 0;
  }

  private async announce(i: Incident): Promise<void> {
    const cfg = this.ctx.config.incidents;
    const targets = [cfg.channel, ...cfg.severities[i.severity].announce];
    const posted: string[] = [];
    for (const target of [...new Set(targets)]) {
      const ch = await this.ctx.chat.findChannel(target);
      if (!ch) throw new ChatError('channel_not_found', `announce in #${target.replace(/^#/, '')}`);
      await this.ctx.chat.post(ch.id, announcement(i));
      posted.push(ch.id);
    }
    await this.step(i, 'incident.announced', { channels: posted });
  }
}
