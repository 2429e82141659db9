import type { AppContext } from '../context.js';
import type { Severity } from './config.js';
import { ROLE_FIELD, type Incident } from './model.js';
import { ChatError, type ChatMessage, type PostedMessage } from '../chat/surface.js';
import { describeChatError } from './setup.js';
import * as store from './store.js';
import { nextReminderDue } from './reminders.js';
import { channelTopic, headline, postmortemPosted, type HeadlineExtras } from '../templates/incidents.js';
import { loadCommsTemplates, renderComms, type CommsKind, type CommsTemplates } from '../templates/comms.js';
import { slackToMarkdown } from '../templates/postmortem.js';

/**
 * The chat effects of one saved change, made once per request. Each message carries a tag
 * naming the request and the effect (Slack message metadata); a re-run of the request (its
 * replica died after the change was saved) looks for each tagged message before posting it,
 * so a post that made it to Slack is not made again and one that did not is made now.
 */
export interface EffectRun {
  incidentId: number;
  requestKey?: string;
  resumed: boolean;
}

export const effectRun = (id: number, requestKey: string | undefined, out: { repeated?: boolean }): EffectRun => ({ incidentId: id, requestKey, resumed: !!out.repeated });

/**
 * Everything the incidents area posts, and where: the incident channel, the announcement
 * channels, the headline and topic, the post-mortem upload. The flows (declare.ts,
 * resolve.ts, ...) decide what happens; this says it in chat.
 */
export class IncidentMessages {
  /** The team's comms templates, read once at start; `firebreak config check` reports broken files. */
  readonly comms: CommsTemplates;

  constructor(
    private readonly ctx: AppContext,
    /** Whether PagerDuty routing keys are configured: the headline says whether declares page. */
    private readonly paging: { enabled: boolean },
  ) {
    const loaded = loadCommsTemplates(ctx.config.incidents.templatesDir);
    for (const problem of loaded.problems) ctx.log.warn({ problem }, 'comms template override ignored; using the built-in one');
    this.comms = loaded.templates;
  }

  /** Chat side effects of a saved change: failures are reported, never undo the change. */
  async effect(problems: string[], step: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (e) {
      problems.push(describeChatError(step, e));
      this.ctx.log.warn({ err: e, step }, 'incident side effect failed');
    }
  }

  async postIn(i: Incident, problems: string[], message: ChatMessage, run?: EffectRun, name = 'notice'): Promise<void> {
    if (i.channelId) await this.effect(problems, 'post in the incident channel', () => this.postOnce(run, name, i.channelId!, message));
  }

  /** Posts unless `run` is a re-run that finds the message its first run posted (by tag). */
  async postOnce(run: EffectRun | undefined, name: string, channel: string, message: ChatMessage, threadTs?: string): Promise<void> {
    const tag = run?.requestKey ? { incidentId: run.incidentId, step: `${name}:${run.requestKey}` } : undefined;
    const thread = threadTs ? { threadTs } : {};
    if (tag && run!.resumed && (await this.ctx.chat.findTagged(channel, tag, thread))) return;
    await this.ctx.chat.post(channel, message, { ...thread, ...(tag ? { tag } : {}) });
  }

  /** Posts `message` once in each announcement channel of the severity. */
  async announce(problems: string[], step: string, run: EffectRun, name: string, severity: Severity, message: ChatMessage): Promise<void> {
    await this.effect(problems, step, async () => {
      for (const ch of await this.announceTargets(severity)) await this.postOnce(run, name, ch, message);
    });
  }

  async announceTargets(severity: Severity): Promise<string[]> {
    const cfg = this.ctx.config.incidents;
    const ids: string[] = [];
    for (const target of new Set([cfg.channel, ...cfg.severities[severity].announce])) {
      const ch = await this.ctx.chat.findChannel(target);
      if (!ch) throw new ChatError('channel_not_found', `announce in #${target.replace(/^#/, '')}`);
      ids.push(ch.id);
    }
    return ids;
  }

  /** Posts in the incident's channel; where it went, so a message that reflects state can be edited later. Logs and skips when the channel was never created. */
  async postToIncident(incidentId: number, message: ChatMessage): Promise<PostedMessage | undefined> {
    const i = await store.getIncident(this.ctx.pool, incidentId);
    if (!i?.channelId) {
      this.ctx.log.warn({ incidentId }, 'incident has no channel to post in');
      return undefined;
    }
    return this.ctx.chat.post(i.channelId, message);
  }

  async syncChannel(i: Incident, problems: string[], topic = false): Promise<void> {
    if (topic && i.channelId) await this.effect(problems, 'set topic', () => this.ctx.chat.setTopic(i.channelId!, channelTopic(i)));
    await this.effect(problems, 'refresh the headline', () => this.refreshHeadline(i));
  }

  /** Headline refresh that never fails the change that triggered it: the state is already saved. */
  async refreshHeadlineQuietly(i: Incident): Promise<void> {
    try {
      await this.refreshHeadline(i);
    } catch (err) {
      this.ctx.log.warn({ err, incidentId: i.id }, 'headline refresh failed');
    }
  }

  headlineExtras(i: Incident): HeadlineExtras {
    const required = this.ctx.config.incidents.severities[i.severity].requiredRoles;
    return {
      paging: this.paging.enabled ? 'on (PagerDuty)' : 'off (no PagerDuty key configured)',
      missingRoles: required.filter((r) => !i[ROLE_FIELD[r]]),
      nextUpdateDue: nextReminderDue(this.ctx, i),
    };
  }

  /** Re-renders the headline message so it always shows the current state. */
  async refreshHeadline(i: Incident): Promise<void> {
    if (!i.channelId || !i.headlineTs) return;
    await this.ctx.chat.update(i.channelId, i.headlineTs, headline(i, this.headlineExtras(i)));
  }

  async invite(i: Incident, severity: Severity = i.severity): Promise<string[]> {
    const policy = this.ctx.config.incidents.severities[severity];
    const users = new Set<string>(policy.responders);
    if (/^[UW][A-Z0-9]+$/.test(i.declaredBy)) users.add(i.declaredBy);
    for (const g of policy.userGroups) for (const u of await this.ctx.chat.userGroupMembers(g)) users.add(u);
    const list = [...users];
    if (list.length) await this.ctx.chat.invite(i.channelId!, list);
    return list;
  }

  /** Fills the comms drafts: the next update time comes from the severity's cadence. */
  commsExtras(i: Incident, update?: string): { update?: string; nextUpdate?: string } {
    const due = nextReminderDue(this.ctx, i);
    return { update, nextUpdate: due ? `by ${due.toISOString().slice(11, 16)} UTC` : undefined };
  }

  /** A draft rendered from the team's template, e.g. to prefill the update modal. */
  draft(kind: CommsKind, i: Incident, update?: string): string {
    return renderComms(kind, i, this.commsExtras(i, update), this.comms);
  }

  /**
   * A draft for a plain-text box (the update form): mentions as names and entities decoded,
   * since a text input shows markup raw and the person would post `<@U0ALICE>` back.
   */
  async editableDraft(kind: CommsKind, i: Incident, update?: string): Promise<string> {
    const draft = this.draft(kind, i, update);
    const names = await this.displayNames([draft]);
    return slackToMarkdown(draft, (u) => names.get(u));
  }

  /** Display names of every user id found in `texts`, from the chat surface when it can tell. */
  async displayNames(texts: Array<string | null | undefined>): Promise<Map<string, string>> {
    const ids = new Set(texts.flatMap((t) => t?.match(/\b[UW][A-Z0-9]{2,}\b/g) ?? []));
    const names = new Map<string, string>();
    const lookup = this.ctx.chat.displayName?.bind(this.ctx.chat);
    if (!lookup) return names;
    await Promise.all([...ids].map(async (id) => {
      const name = await lookup(id).catch(() => undefined);
      if (name) names.set(id, name);
    }));
    return names;
  }

  /**
   * Uploads a post-mortem version to the incident channel and says so. With `requestKey`
   * (`resumed`: its first run saved this version), what made it to Slack is not made again.
   */
  async postPostmortem(i: Incident, saved: store.StoredPostmortem, requestKey: string | undefined, resumed: boolean): Promise<void> {
    if (!i.channelId) return;
    const id = i.id;
    const tag = requestKey ? { incidentId: id, step: requestKey } : undefined;
    // The notice follows the upload: found, both were made.
    if (tag && resumed && (await this.ctx.chat.findTagged(i.channelId, tag))) return;
    const filename = `INC-${id}-postmortem-v${saved.version}.md`;
    // A re-run killed between upload and notice finds the file already shared and only posts the notice.
    if (!(tag && resumed && (await this.ctx.chat.findUpload(i.channelId, filename)))) {
      await this.ctx.chat.uploadFile(i.channelId, { filename, title: `Post-mortem draft v${saved.version}: INC-${id} ${i.title}`, content: saved.markdown });
    }
    await this.ctx.chat.post(i.channelId, postmortemPosted(i, saved.version), tag ? { tag } : {});
  }
}
