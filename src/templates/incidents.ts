import type { Block, ChatMessage, ModalView } from '../chat/surface.js';
import type { Incident, IncidentRole } from '../incidents/model.js';
import { SEVERITIES } from '../incidents/config.js';
import { incidentMetrics, ROLE_LABEL, SEVERITY_MEANING } from '../incidents/model.js';
import type { TimelineEntry } from '../incidents/timeline.js';
import { button, channelLink, context, escapeMrkdwn, exactDuration, exactTime, mention, section, utc } from './format.js';

export { exactDuration, exactTime } from './format.js';

const SEVERITY_ICON: Record<string, string> = { P0: ':red_circle:', P1: ':red_circle:', P2: ':large_orange_circle:', P3: ':large_yellow_circle:', P4: ':white_circle:' };
const STATUS_LABEL: Record<string, string> = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' };

export const incidentLabel = (i: Pick<Incident, 'id' | 'severity' | 'title'>): string => `INC-${i.id} [${i.severity}] ${i.title}`;

export interface HeadlineExtras {
  /** One line about paging: "paged payments-oncall", "off (no PagerDuty key)". */
  paging?: string;
  /** Roles the severity policy requires that nobody holds yet. */
  missingRoles?: IncidentRole[];
  /** When the next stakeholder update is due; absent when the severity has no cadence. */
  nextUpdateDue?: Date | null;
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
  if (!resolved && extras.missingRoles?.length) {
    const needed = extras.missingRoles.map((r) => `${/^[aeiou]/.test(ROLE_LABEL[r]) ? 'an' : 'a'} ${ROLE_LABEL[r]}`).join(', ');
    blocks.push(section(`:warning: *Needs* ${needed} — \`/incident role commander|comms|tech @someone\``));
  }
  const ctx = [`Paging: ${extras.paging ?? 'off (no PagerDuty key configured)'}`];
  if (i.service) ctx.unshift(`Service: ${escapeMrkdwn(i.service)}`);
  ctx.push(i.acknowledgedAt ? `Acknowledged ${utc(i.acknowledgedAt)}` : 'Not acknowledged yet');
  if (!resolved) ctx.push(`Last update: ${i.lastUpdateAt ? utc(i.lastUpdateAt) : 'none yet'}`);
  if (!resolved && extras.nextUpdateDue) ctx.push(`Next update due ${utc(extras.nextUpdateDue)}`);
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

/** A war-room setup that is still failing: what failed, and that (or how) it is retried. */
export function setupFailedNotice(i: Incident, problems: string[], retrying: boolean): ChatMessage {
  const lines = problems.map((p) => `• ${p}`).join('\n');
  const next = retrying
    ? `Firebreak keeps retrying these steps on its own and they complete when the cause clears; \`/incident setup ${i.id}\` retries now.`
    : `Firebreak has stopped retrying. Fix the cause and run \`/incident setup ${i.id}\`.`;
  return { text: `INC-${i.id} (${i.severity}: ${escapeMrkdwn(i.title)}) is recorded, but some setup steps failed:\n${lines}\n${next}` };
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

/** Ephemeral answer to `/incident timeline`: the key times, the metrics, then every entry. */
export function timelineMessage(i: Incident, entries: TimelineEntry[]): ChatMessage {
  const m = incidentMetrics(i);
  const times = [
    `*Declared* ${exactTime(i.declaredAt)}`,
    `*Acknowledged* ${exactTime(i.acknowledgedAt)}`,
    `*Identified* ${exactTime(i.identifiedAt)}`,
    `*Mitigated* ${exactTime(i.mitigatedAt)}`,
    `*Resolved* ${exactTime(i.resolvedAt)}`,
  ].join('\n');
  const metrics = `*MTTA* ${exactDuration(m.mtta)} · *MTTM* ${exactDuration(m.mttm)} · *MTTR* ${exactDuration(m.mttr)}`;
  const lines = entries.map((e) => {
    const text = escapeUserText(e.text);
    return `\`${exactTime(e.at).slice(11, 19)}\` ${mention(e.actor)} — ${text}${e.link ? ` (<${e.link}|message>)` : ''}`;
  });
  // Sections hold 3000 characters and a message 50 blocks: chunk, and keep the newest.
  const chunks: string[] = [];
  let cur = '';
  for (const l of lines) {
    const line = l.length > 2900 ? l.slice(0, 2900) + '…' : l;
    if (cur.length + line.length + 1 > 2900) {
      chunks.push(cur);
      cur = '';
    }
    cur += (cur ? '\n' : '') + line;
  }
  if (cur) chunks.push(cur);
  const kept = chunks.slice(-40);
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: `Timeline · ${incidentLabel(i)}`.slice(0, 150) } },
    section(times),
    section(metrics),
    { type: 'divider' },
    ...kept.map((c) => section(c)),
  ];
  if (kept.length < chunks.length) blocks.push(context(`Older entries are in the post-mortem: \`/incident postmortem ${i.id}\``));
  if (entries.length === 0) blocks.push(context('Nothing recorded yet.'));
  const text = `Timeline of INC-${i.id}: declared ${exactTime(i.declaredAt)}, MTTA ${exactDuration(m.mtta)}, MTTM ${exactDuration(m.mttm)}, MTTR ${exactDuration(m.mttr)}\n${lines.join('\n')}`;
  return { text: text.slice(0, 39_000), blocks };
}

/** People's own text: keep their mentions and links, neutralise nothing else Slack would parse. */
function escapeUserText(s: string): string {
  return s.replace(/&(?!amp;|lt;|gt;)/g, '&amp;');
}

export function listMessage(open: Incident[], now: Date): ChatMessage {
  if (open.length === 0) return { text: 'No open incidents. :tada:' };
  const lines = open.map(
    (i) =>
      `${SEVERITY_ICON[i.severity] ?? ''} *INC-${i.id}* ${i.severity} · ${escapeMrkdwn(i.title)} · ${STATUS_LABEL[i.status]} · IC ${mention(i.commander)} · ${channelLink(i.channelId, i.channelName)} · open ${exactDuration(now.getTime() - i.declaredAt.getTime())}`,
  );
  const text = `*${open.length} open incident${open.length === 1 ? '' : 's'}*\n${lines.join('\n')}`;
  return { text, blocks: [section(text.slice(0, 2990))] };
}

export function updatePosted(i: Incident, actor: string, text: string): ChatMessage {
  return {
    text: `Update on INC-${i.id}: ${text}`,
    blocks: [section(`:mega: *Update* from ${mention(actor)} · ${STATUS_LABEL[i.status]}\n${escapeUserText(text)}`)],
  };
}

/** The one-line copy of an update for the announcement channels. */
export function updateCrossPost(i: Incident, text: string): ChatMessage {
  return { text: `INC-${i.id} update: ${text}`, blocks: [section(`${SEVERITY_ICON[i.severity] ?? ''} *INC-${i.id}* [${i.severity}] ${escapeMrkdwn(i.title)} · ${STATUS_LABEL[i.status]} — ${channelLink(i.channelId, i.channelName)}\n${escapeUserText(text)}`)] };
}

/** Posted in the incident channel for every change, so the channel itself tells the story. */
export function changeNotice(text: string): ChatMessage {
  return { text, blocks: [context(text)] };
}

export const statusNotice = (actor: string, from: string, to: string): ChatMessage =>
  changeNotice(`:arrows_counterclockwise: ${mention(actor)} changed the status: ${STATUS_LABEL[from] ?? from} → *${STATUS_LABEL[to] ?? to}*`);

export const severityNotice = (actor: string, from: string, to: string, raised: boolean): ChatMessage =>
  changeNotice(`${raised ? ':arrow_up:' : ':arrow_down:'} ${mention(actor)} changed the severity: ${from} → *${to}*${raised ? ` — ${to} policy applied (responders invited, cadence updated)` : ''}`);

export const roleNotice = (actor: string, role: IncidentRole, user: string): ChatMessage =>
  changeNotice(`:busts_in_silhouette: ${mention(user)} is now the ${ROLE_LABEL[role]}${actor !== user ? ` (set by ${mention(actor)})` : ''}`);

export const noteNotice = (actor: string, text: string): ChatMessage => ({
  text: `Note: ${text}`,
  blocks: [context(`:memo: Note from ${mention(actor)}: ${escapeUserText(text)}`)],
});

export function reminderMessage(i: Incident, minutes: number, missed: number): ChatMessage {
  const who = i.commander ? mention(i.commander) : 'Nobody is commanding this incident — take command and';
  return {
    text: `INC-${i.id}: no update for ${minutes} minutes`,
    blocks: [
      section(`:alarm_clock: ${who} ${i.commander ? 'please' : ''} post a stakeholder update: none for *${minutes} minutes* (${i.severity} cadence).`.replace(/\s{2,}/g, ' ')),
      context(`Reminder ${missed}. \`/incident update <what changed>\` or the *Post update* button. After two missed reminders the incidents channel is told.`),
    ],
  };
}

export function escalationMessage(i: Incident, minutes: number, missed: number): ChatMessage {
  return {
    text: `INC-${i.id} has had no update for ${minutes} minutes`,
    blocks: [
      section(
        `:rotating_light: *INC-${i.id}* [${i.severity}] ${escapeMrkdwn(i.title)} has had *no update for ${minutes} minutes* ` +
          `(${missed - 1} reminders missed). Commander: ${mention(i.commander)}. Can someone check in ${channelLink(i.channelId, i.channelName)}?`,
      ),
    ],
  };
}

export function resolvedNotice(i: Incident, actor: string, summary: string | undefined): ChatMessage {
  const m = incidentMetrics(i);
  return {
    text: `INC-${i.id} resolved`,
    blocks: [
      section(`:white_check_mark: ${mention(actor)} resolved *INC-${i.id}*${summary ? `: ${escapeUserText(summary)}` : ''}`),
      context(`MTTA ${exactDuration(m.mtta)} · MTTM ${exactDuration(m.mttm)} · MTTR ${exactDuration(m.mttr)} · the post-mortem draft follows`),
    ],
  };
}

export function resolvedAnnouncement(i: Incident): ChatMessage {
  const m = incidentMetrics(i);
  return {
    text: `INC-${i.id} resolved: ${i.title}`,
    blocks: [section(`:white_check_mark: *Resolved:* INC-${i.id} [${i.severity}] ${escapeMrkdwn(i.title)} after ${exactDuration(m.mttr)} — ${channelLink(i.channelId, i.channelName)}`)],
  };
}

export const reopenedNotice = (i: Incident, actor: string, reason?: string): ChatMessage =>
  changeNotice(`:leftwards_arrow_with_hook: ${mention(actor)} reopened INC-${i.id}${reason ? `: ${escapeUserText(reason)}` : ''}. Status is back to Investigating.`);

export function postmortemPosted(i: Incident, version: number): ChatMessage {
  return { text: `Post-mortem draft v${version} for INC-${i.id}`, blocks: [context(`:page_facing_up: Post-mortem draft v${version} uploaded. Regenerate with \`/incident postmortem ${i.id}\` after editing the timeline.`)] };
}

/** A one-field modal about an incident: the incident line on top, one text input below. */
function incidentTextModal(i: Incident, m: { callbackId: string; verb: string; submit: string; input: Block }): ModalView {
  return {
    type: 'modal',
    callback_id: m.callbackId,
    private_metadata: JSON.stringify({ incidentId: i.id }),
    title: { type: 'plain_text', text: `${m.verb} INC-${i.id}`.slice(0, 24) },
    submit: { type: 'plain_text', text: m.submit },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [context(`${escapeMrkdwn(i.title)} · ${i.severity} · ${STATUS_LABEL[i.status]}`), m.input],
  };
}

/** `update` without text, and the Post update button: a prefilled draft to edit and post. */
export function updateModal(i: Incident, draft: string): ModalView {
  return incidentTextModal(i, {
    callbackId: 'incident.update', verb: 'Update', submit: 'Post update',
    input: { type: 'input', block_id: 'text', label: { type: 'plain_text', text: 'Update' }, element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 2800, initial_value: draft.slice(0, 2800) } },
  });
}

/** The Resolve button asks for a one-line summary before closing the incident. */
export function resolveModal(i: Incident): ModalView {
  return incidentTextModal(i, {
    callbackId: 'incident.resolve', verb: 'Resolve', submit: 'Resolve',
    input: { type: 'input', block_id: 'summary', optional: true, label: { type: 'plain_text', text: 'Resolution summary' }, element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 2000 } },
  });
}

export const notMemberAnswer = (i: Incident): string =>
  `You're not in ${channelLink(i.channelId, i.channelName)}, so you can't change INC-${i.id}. Join the channel first (or ask the commander, ${mention(i.commander)}). You can still read it: \`/incident timeline ${i.id}\`.`;

export const resolvedAnswer = (i: Incident, sub: string): string =>
  `INC-${i.id} was resolved at ${exactTime(i.resolvedAt)}, so \`${sub}\` no longer applies. If it is back, \`/incident reopen ${i.id}\` first; \`/incident timeline ${i.id}\` and \`/incident postmortem ${i.id}\` still work.`;

export const whichIncidentAnswer = (sub: string, usage: string): string =>
  `Which incident? Run this in the incident's channel, or name it: \`/incident ${sub} <incident-id>${usage ? ' ' + usage : ''}\` (e.g. \`/incident ${sub} 12${usage ? ' …' : ''}\`). \`/incident list\` shows the open ones.`;

export const noSuchIncidentAnswer = (id: number): string => `There is no INC-${id}. \`/incident list\` shows the open incidents.`;
