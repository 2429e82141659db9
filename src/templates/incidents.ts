import type { Block, ChatMessage, ModalView } from '../chat/surface.js';
import type { Incident } from '../incidents/model.js';
import { SEVERITIES } from '../incidents/config.js';
import { SEVERITY_MEANING } from '../incidents/model.js';
import { button, channelLink, context, escapeMrkdwn, mention, section, utc } from './format.js';

const SEVERITY_ICON: Record<string, string> = { P0: ':red_circle:', P1: ':red_circle:', P2: ':large_orange_circle:', P3: ':large_yellow_circle:', P4: ':white_circle:' };
const STATUS_LABEL: Record<string, string> = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' };

export const incidentLabel = (i: Pick<Incident, 'id' | 'severity' | 'title'>): string => `INC-${i.id} [${i.severity}] ${i.title}`;

export interface HeadlineExtras {
  /** One line about paging: "paged payments-oncall", "off (no PagerDuty key)". */
  paging?: string;
}

/** The pinned-at-top message of an incident channel; kept in sync with chat.update. */
export function headline(i: Incident, extras: HeadlineExtras = {}): ChatMessage {
  const resolved = i.status === 'resolved';
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: `${resolved ? '✅' : '🚨'} INC-${i.id} · ${i.severity} · ${i.title}`.slice(0, 150) } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Severity*\n${SEVERITY_ICON[i.severity] ?? ''} ${i.severity} — ${SEVERITY_MEANING[i.severity]}` },
        { type: 'mrkdwn', text: `*Status*\n${STATUS_LABEL[i.status]}` },
        { type: 'mrkdwn', text: `*Commander*\n${mention(i.commander)}` },
        { type: 'mrkdwn', text: `*Declared*\n${utc(i.declaredAt)} by ${mention(i.declaredBy)}` },
        ...(i.commsLead || i.techLead
          ? [{ type: 'mrkdwn', text: `*Comms lead*\n${mention(i.commsLead)}` }, { type: 'mrkdwn', text: `*Tech lead*\n${mention(i.techLead)}` }]
          : []),
      ],
    },
  ];
  if (i.summary) blocks.push(section(`*Summary*\n${escapeMrkdwn(i.summary)}`));
  const ctx = [`Paging: ${extras.paging ?? 'off (no PagerDuty key configured)'}`];
  if (i.service) ctx.unshift(`Service: ${escapeMrkdwn(i.service)}`);
  if (resolved && i.resolvedAt) ctx.push(`Resolved ${utc(i.resolvedAt)}`);
  blocks.push(context(ctx.join(' · ')));
  if (!resolved) {
    blocks.push({
      type: 'actions',
      block_id: `incident-actions-${i.id}`,
      elements: [
        button('Take command', 'incident.take_command', String(i.id), 'primary'),
        button('Post update', 'incident.post_update', String(i.id)),
        button('Resolve', 'incident.resolve', String(i.id), 'danger'),
      ],
    });
  }
  return { text: `${incidentLabel(i)} — ${STATUS_LABEL[i.status]}`, blocks };
}

/** Posted in the incidents channel so everyone knows where the response happens. */
export function announcement(i: Incident): ChatMessage {
  const text = `${SEVERITY_ICON[i.severity] ?? ''} *${i.severity} declared:* ${escapeMrkdwn(i.title)} — join ${channelLink(i.channelId, i.channelName)}`;
  return { text: `${i.severity} declared: ${i.title}`, blocks: [section(text), context(`INC-${i.id} · declared by ${mention(i.declaredBy)} · ${utc(i.declaredAt)}`)] };
}

export function channelTopic(i: Incident): string {
  return `${i.severity} · ${STATUS_LABEL[i.status]} · ${i.title} · IC: ${i.commander ? `<@${i.commander}>` : 'unassigned'}`.slice(0, 250);
}

export function channelPurpose(i: Incident): string {
  return `Response channel for INC-${i.id}: ${i.title}. Declared ${utc(i.declaredAt)}.`.slice(0, 250);
}

export function declaredReply(i: Incident, problems: string[]): ChatMessage {
  if (problems.length === 0) {
    return { text: `INC-${i.id} declared: ${i.title}. Channel: ${channelLink(i.channelId, i.channelName)}` };
  }
  const lines = problems.map((p) => `• ${p}`).join('\n');
  return {
    text:
      `INC-${i.id} (${i.severity}: ${escapeMrkdwn(i.title)}) is recorded, but some setup steps failed:\n${lines}\n` +
      `Nothing is lost. Fix the cause and run \`/incident setup ${i.id}\` to retry the missing steps.`,
  };
}

export function duplicateReply(i: Incident): ChatMessage {
  return { text: `INC-${i.id} (${escapeMrkdwn(i.title)}) was declared a moment ago — no second incident was created. Channel: ${channelLink(i.channelId, i.channelName)}` };
}

/** The declare modal, for `/incident declare` without a severity or title. */
export function declareModal(prefill: { title?: string; severity?: string }): ModalView {
  const options = SEVERITIES.map((s) => ({ text: { type: 'plain_text', text: `${s} — ${SEVERITY_MEANING[s]}` }, value: s }));
  const initial = options.find((o) => o.value === prefill.severity);
  return {
    type: 'modal',
    callback_id: 'incident.declare',
    title: { type: 'plain_text', text: 'Declare an incident' },
    submit: { type: 'plain_text', text: 'Declare' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'input', block_id: 'title', label: { type: 'plain_text', text: 'Title' }, element: { type: 'plain_text_input', action_id: 'value', max_length: 200, ...(prefill.title ? { initial_value: prefill.title } : {}), placeholder: { type: 'plain_text', text: 'Database down' } } },
      { type: 'input', block_id: 'severity', label: { type: 'plain_text', text: 'Severity' }, element: { type: 'static_select', action_id: 'value', options, ...(initial ? { initial_option: initial } : {}) } },
      { type: 'input', block_id: 'summary', optional: true, label: { type: 'plain_text', text: 'Summary' }, element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 2000 } },
      { type: 'input', block_id: 'service', optional: true, label: { type: 'plain_text', text: 'Affected service' }, element: { type: 'plain_text_input', action_id: 'value', max_length: 100 } },
    ],
  };
}
