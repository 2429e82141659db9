/**
 * Slack-side of silences: the Silence button opens the modal, the modal's answer becomes a
 * durable job, the Expire/Unmute buttons call the service. Thin: parse, call, render.
 */
import type { ActionHandler, ReplyAddress, ViewHandler } from '../chat/interactions.js';
import type { AlertService } from '../alerts/service.js';
import type { AlertSource } from '../alerts/model.js';
import type { JobQueue, Job } from '../jobs/queue.js';
import type { ReplyFactory } from '../chat/interactions.js';
import type { SilencesConfig } from '../silences/config.js';
import { parseDuration } from '../alerts/matchers.js';
import { commonLabels, matcherText, parseMatcherLines, parseSilenceDuration } from '../silences/model.js';
import { ownerOf, type SilenceService } from '../silences/service.js';
import { ALERT_ACTIONS, alertReplies } from '../templates/alerts.js';
import { EXPIRE_LIST_ACTIONS, SILENCE_MODAL, expireOutcomeText, silenceModal, silenceOutcomeText, type SilenceModalData } from '../templates/silences.js';
import { escapeMrkdwn } from '../templates/blocks.js';

export const SILENCE_QUEUE = 'silences.create';

interface SilenceJob {
  requestKey: string;
  actor: string;
  groupId: number;
  matchers: string | null;
  durationMs: number;
  comment: string;
  reply: ReplyAddress;
}

const groupIdOf = (value: string): number | undefined => (/^\d{1,15}$/.test(value) ? Number(value) : undefined);

export interface SilenceHandlerDeps {
  alerts: AlertService;
  silences: SilenceService;
  owners: Partial<Record<AlertSource, string>>;
  config: SilencesConfig;
  jobs: JobQueue;
  replies: ReplyFactory;
  now: () => Date;
  mayControl(userId: string): Promise<boolean>;
}

export function silenceHandlers(d: SilenceHandlerDeps): {
  actions: Record<string, ActionHandler>;
  views: Record<string, ViewHandler>;
  jobs: Record<string, (job: Job) => Promise<void>>;
} {
  const maxMs = parseDuration(d.config.maxDuration);

  const openModal: ActionHandler = async (inv, ctx) => {
    const id = groupIdOf(inv.value);
    const g = id === undefined ? undefined : await d.alerts.group(id);
    if (!g) return ctx.reply.ephemeral(alertReplies.unknownGroup(inv.value));
    if (!(await d.mayControl(inv.actor.userId))) return ctx.reply.ephemeral('You are not allowed to silence alerts here (alerts.silences.allowedUsers / allowedGroups).');
    const all = await d.alerts.groupAlerts(g.id);
    const firing = all.filter((a) => a.status === 'firing');
    const shown = firing.length ? firing : all;
    const owner = ownerOf(d.owners, shown);
    const labels = commonLabels(shown);
    await ctx.reply.openModal(silenceModal({
      groupId: g.id, title: await d.alerts.titleOf(g), alertmanager: owner.name ?? null, ...(owner.name ? { where: d.silences.whereOf(owner.name) } : {}), localOnlySources: owner.localOnly,
      presets: d.config.presets, channelId: inv.channelId,
      matchers: Object.keys(labels).sort().map((k) => matcherText({ name: k, op: '=', value: labels[k]! })),
    }));
  };

  const submit: ViewHandler = async (sub) => {
    let data: SilenceModalData;
    try {
      data = JSON.parse(sub.privateMetadata) as SilenceModalData;
    } catch {
      return { comment: 'This form is from an older version of Firebreak; close it and press Silence again.' };
    }
    if (!Number.isInteger(data.groupId)) return { comment: 'This form lost its alert group; close it and press Silence again.' };
    const errors: Record<string, string> = {};
    const custom = sub.values.custom_duration?.trim();
    let durationMs = 0;
    try {
      durationMs = parseSilenceDuration(custom || sub.values.duration || '', maxMs);
    } catch (e) {
      errors[custom ? 'custom_duration' : 'duration'] = (e as Error).message;
    }
    const matchers = sub.values.matchers ?? null;
    if (matchers !== null) {
      try {
        parseMatcherLines(matchers);
      } catch (e) {
        errors.matchers = (e as Error).message.slice(0, 2000);
      }
    }
    const comment = (sub.values.comment ?? '').trim();
    if (!comment) errors.comment = 'Say why: the comment is stored with the silence.';
    if (Object.keys(errors).length) return errors;
    const job: SilenceJob = {
      requestKey: `view:${sub.requestKey}`, actor: sub.actor.userId, groupId: data.groupId, matchers, durationMs, comment,
      reply: { userId: sub.actor.userId, ...(data.channelId ? { channelId: data.channelId } : {}) },
    };
    // The modal closes now; Alertmanager is called from the job (any replica, retried), which answers the person.
    await d.jobs.enqueue(SILENCE_QUEUE, job as unknown as Record<string, unknown>, { runAt: d.now(), dedupeKey: job.requestKey, maxAttempts: 5 });
  };

  const runJob = async (job: Job) => {
    const p = job.payload as unknown as SilenceJob;
    const out = await d.silences.create({
      requestKey: p.requestKey, actor: p.actor, groupId: p.groupId, durationMs: p.durationMs, comment: p.comment,
      matchers: p.matchers === null ? [] : parseMatcherLines(p.matchers),
    });
    await d.replies(p.reply).ephemeral(silenceOutcomeText(out));
  };

  const expire: ActionHandler = async (inv, ctx) => {
    const out = await d.silences.expire(inv.actor.userId, inv.value);
    await ctx.reply.ephemeral(expireOutcomeText(out));
  };

  const unmute: ActionHandler = async (inv, ctx) => {
    const id = groupIdOf(inv.value);
    if (!(await d.mayControl(inv.actor.userId))) return ctx.reply.ephemeral('You are not allowed to unmute alerts here (alerts.silences.allowedUsers / allowedGroups).');
    const g = id === undefined ? undefined : await d.alerts.unsilence(id, inv.actor.userId);
    if (!g) return ctx.reply.ephemeral(alertReplies.unknownGroup(inv.value));
    await ctx.reply.ephemeral(`🔔 Group #${g.id} (${escapeMrkdwn(await d.alerts.titleOf(g))}) is no longer muted in Firebreak.`);
  };

  return {
    actions: {
      [ALERT_ACTIONS.silence]: openModal,
      [ALERT_ACTIONS.expireSilence]: expire,
      [ALERT_ACTIONS.unmute]: unmute,
      ...Object.fromEntries(EXPIRE_LIST_ACTIONS.map((a) => [a, expire])),
    },
    views: { [SILENCE_MODAL]: submit },
    jobs: { [SILENCE_QUEUE]: runJob },
  };
}
