/**
 * What the silences area says: the Silence modal, replies to `/alerts silence|silences|unsilence`
 * and to the Expire/Unmute buttons. Everything that came from outside (labels, comments,
 * Alertmanager's error text, names) is escaped: it never becomes Slack markup.
 */
import type { ChatMessage, ModalView } from '../chat/surface.js';
import type { Silence } from '../silences/model.js';
import type { ExpireOutcome, SilenceOutcome } from '../silences/service.js';
import { apiMatcherText, inForce } from '../silences/model.js';
import { utc, duration } from './format.js';
import { actions, button, context, escapeMrkdwn, input, lineSections, messageText, option, section, staticSelect, textInput } from './blocks.js';

export const SILENCE_MODAL = 'alerts.silence';
export const EXPIRE_FROM_LIST = 'alerts.expire_listed';

export interface SilenceModalData {
  groupId: number;
  channelId?: string;
}

export function silenceModal(o: {
  groupId: number;
  title: string;
  /** The Alertmanager that will hold the silence; null: Firebreak's own mute only. */
  alertmanager: string | null;
  /** "Alertmanager main" / "Grafana grafana". */
  where?: string;
  localOnlySources: string[];
  presets: string[];
  matchers: string[];
  channelId?: string;
}): ModalView {
  const presets = o.presets.map((p) => option(p, p));
  const where = o.alertmanager
    ? `Creates a silence in *${escapeMrkdwn(o.where ?? `Alertmanager ${o.alertmanager}`)}*: every receiver stops hearing about matching alerts, not only this channel.`
    : `*${escapeMrkdwn(o.localOnlySources.join(', ') || 'These')}* alerts have no silences at the source: Firebreak mutes this group's posts and reminders only.`;
  const blocks = [
    section(`*${escapeMrkdwn(o.title)}* (group #${o.groupId})\n${where}`),
    input('duration', 'Duration', staticSelect('value', presets, presets[0])),
    input('custom_duration', 'Or another duration', textInput('value', { maxLength: 20, placeholder: 'e.g. 90m, 3h, 2d' }), { optional: true, hint: 'Overrides the choice above.' }),
  ];
  if (o.alertmanager) {
    blocks.push(input('matchers', 'Matchers', textInput('value', { multiline: true, maxLength: 2000, initialValue: o.matchers.join('\n') }), {
      hint: 'One per line, Alertmanager syntax: name="value", name!="value", name=~"regex", name!~"regex". Prefilled with the labels all alerts of the group share.',
    }));
  }
  blocks.push(input('comment', 'Why', textInput('value', { maxLength: 500, placeholder: 'Disk being replaced, tracked in OPS-123' })));
  return {
    type: 'modal',
    callback_id: SILENCE_MODAL,
    title: { type: 'plain_text', text: 'Silence alerts' },
    submit: { type: 'plain_text', text: 'Silence' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify({ groupId: o.groupId, ...(o.channelId ? { channelId: o.channelId } : {}) } satisfies SilenceModalData),
    blocks,
  };
}

export function silenceOutcomeText(o: SilenceOutcome): string {
  switch (o.status) {
    case 'silenced':
      return `🔕 Silenced at the source, in *${escapeMrkdwn(o.where)}*, until ${utc(o.endsAt)}: \`${escapeMrkdwn(o.matchers.join(', '))}\` (silence id \`${escapeMrkdwn(o.id)}\`). \`/alerts unsilence ${escapeMrkdwn(o.id)}\` ends it.`;
    case 'muted-locally':
      return `🔕 Muted group #${o.groupId} in Firebreak only (a local mute, not a silence at the source) until ${utc(o.endsAt)}: ${escapeMrkdwn(o.sources.join(', ') || 'its')} alerts have no silences at the source, so other receivers still get them.`;
    case 'refused':
      return escapeMrkdwn(o.message);
  }
}

export function expireOutcomeText(o: ExpireOutcome): string {
  if (o.status === 'refused') return escapeMrkdwn(o.message);
  return `🔔 Expired silence \`${escapeMrkdwn(o.id)}\` in *${escapeMrkdwn(o.where)}*: notifications for its alerts resume.`;
}

function silenceLine(s: Silence, now: Date): string {
  const when = inForce(s, now) ? `until ${utc(s.endsAt)} (${duration(s.endsAt.getTime() - now.getTime())} left)` : `pending, from ${utc(s.startsAt)} to ${utc(s.endsAt)}`;
  const by = s.slackUser ? `<@${s.slackUser}>` : escapeMrkdwn(s.createdBy || 'someone');
  return `• \`${escapeMrkdwn(s.id)}\` ${escapeMrkdwn(s.alertmanager)} · \`${escapeMrkdwn(s.matchers.map(apiMatcherText).join(', '))}\` · ${when} · by ${by}: ${escapeMrkdwn(s.comment)}`;
}

/** `/alerts silences [filter]`: active and pending silences, each with an Expire button (first ten). */
export function silencesList(silences: Silence[], now: Date, filter: string | undefined, unreachable: string[]): ChatMessage {
  const head = silences.length
    ? `*${silences.length} silence${silences.length === 1 ? '' : 's'}*${filter ? ` matching \`${escapeMrkdwn(filter)}\`` : ''} (active and pending):`
    : `No active or pending silences${filter ? ` matching \`${escapeMrkdwn(filter)}\`` : ''}.`;
  const blocks = [section(head), ...lineSections(silences.map((s) => silenceLine(s, now)), { maxBlocks: 10 })];
  const buttons = silences.slice(0, 10).map((s, i) => ({ ...button(`Expire ${s.id.slice(0, 8)}`, `${EXPIRE_FROM_LIST}.${i}`, `${s.alertmanager}/${s.id}`, 'danger') }));
  if (buttons.length) blocks.push(actions('silences-expire', buttons) as never);
  if (unreachable.length) blocks.push(context(`⚠️ ${escapeMrkdwn(unreachable.join('; '))}: its silences may be out of date here.`) as never);
  return { text: messageText(head), blocks };
}

export const EXPIRE_LIST_ACTIONS = Array.from({ length: 10 }, (_, i) => `${EXPIRE_FROM_LIST}.${i}`);
