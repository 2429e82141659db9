import type { Block, ChatMessage, ModalView } from '../chat/surface.js';
import type { Incident, IncidentRole } from '../incidents/model.js';
import { SEVERITIES } from '../incidents/config.js';
import { incidentMetrics, ROLE_LABEL, SEVERITY_MEANING } from '../incidents/model.js';
import type { TimelineEntry } from '../incidents/timeline.js';
import { channelLink, exactDuration, exactTime, mention, utc } from './format.js';
import {
  actions, button, clipMrkdwn, context, divider, escapeMrkdwn, fieldsSection, header, input, lineSections, messageBlocks, messageText, option,
  section, staticSelect, textInput, textSections, userMrkdwn,
  clipPlain, link, plain,
} from './blocks.js';
import { SLACK_LIMITS } from './slack-limits.js';
import { addFollowupButton } from './followups.js';

/** Longest update people may type (modal and command alike); Firebreak splits it over sections when it posts it. */
export const UPDATE_MAX = 2800;

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
    header(`${resolved ? '✅' : '🚨'} INC-${i.id} · ${i.severity} · ${i.title}`),
    fieldsSection([
      `*Severity*\n${SEVERITY_ICON[i.severity] ?? ''} ${i.severity} — ${SEVERITY_MEANING[i.severity]}`,
      `*Status*\n${STATUS_LABEL[i.status]}`,
      `*Commander*\n${mention(i.commander)}`,
      `*Declared*\n${utc(i.declaredAt)} by ${mention(i.declaredBy)}`,
      ...(i.commsLead || i.techLead ? [`*Comms lead*\n${mention(i.commsLead)}`, `*Tech lead*\n${mention(i.techLead)}`] : []),
    ]),
  ];
  // The summary may be a pasted error page: it gets a few sections, then points at the record.
  if (i.summary) blocks.push(...textSections(`*Summary*\n${escapeMrkdwn(i.summary)}`, { maxBlocks: 3, note: (n) => `_…and ${n} more characters: the full summary is in \`/incident timeline ${i.id}\`_` }));
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
    blocks.push(actions(`incident-actions-${i.id}`, [
      button('Take command', 'incident.take_command', String(i.id), 'primary'),
      button('Post update', 'incident.post_update', String(i.id)),
      button('Resolve', 'incident.resolve', String(i.id), 'danger'),
    ]));
  }
  return { text: messageText(`${escapeMrkdwn(incidentLabel(i))} — ${STATUS_LABEL[i.status]}`), blocks: messageBlocks(blocks) };
}

/** Posted in the incidents channel so everyone knows where the response happens. */
export function announcement(i: Incident): ChatMessage {
  const text = `${SEVERITY_ICON[i.severity] ?? ''} *${i.severity} declared:* ${escapeMrkdwn(i.title)} — join ${channelLink(i.channelId, i.channelName)}`;
  return { text: messageText(`${i.severity} declared: ${escapeMrkdwn(i.title)}`), blocks: [section(text), context(`INC-${i.id} · declared by ${mention(i.declaredBy)} · ${utc(i.declaredAt)}`)] };
}

export function channelTopic(i: Incident): string {
  return clipPlain(`${i.severity} · ${STATUS_LABEL[i.status]} · ${i.title} · IC: ${i.commander ? `<@${i.commander}>` : 'unassigned'}`, SLACK_LIMITS.topic);
}

export function channelPurpose(i: Incident): string {
  return clipPlain(`Response channel for INC-${i.id}: ${i.title}. Declared ${utc(i.declaredAt)}.`, SLACK_LIMITS.topic);
}

export function declaredReply(i: Incident, problems: string[]): ChatMessage {
  if (problems.length === 0) {
    return { text: `INC-${i.id} declared: ${escapeMrkdwn(i.title)}. Channel: ${channelLink(i.channelId, i.channelName)}` };
  }
  const lines = problems.map((p) => `• ${escapeMrkdwn(p)}`).join('\n');
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
    : `Firebreak's quick retries are used up; it tries again every 5 minutes once Slack answers. Fix the cause if it is on our side; \`/incident setup ${i.id}\` retries now.`;
  return { text: `INC-${i.id} (${i.severity}: ${escapeMrkdwn(i.title)}) is recorded, but some setup steps failed:\n${lines}\n${next}` };
}

export function duplicateReply(i: Incident): ChatMessage {
  return { text: `INC-${i.id} (${escapeMrkdwn(i.title)}) was declared a moment ago — no second incident was created. Channel: ${channelLink(i.channelId, i.channelName)}` };
}

/** The declare modal, for `/incident declare` without a severity or title. */
export function declareModal(prefill: { title?: string; severity?: string }): ModalView {
  const options = SEVERITIES.map((s) => option(`${s} — ${SEVERITY_MEANING[s]}`, s));
  const initial = options.find((o) => o.value === prefill.severity);
  return {
    type: 'modal',
    callback_id: 'incident.declare',
    title: { type: 'plain_text', text: 'Declare an incident' },
    submit: { type: 'plain_text', text: 'Declare' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      input('title', 'Title', textInput('value', { maxLength: 200, initialValue: prefill.title, placeholder: 'Database down' })),
      input('severity', 'Severity', staticSelect('value', options, initial)),
      input('summary', 'Summary', textInput('value', { multiline: true, maxLength: 2000 }), { optional: true }),
      input('service', 'Affected service', textInput('value', { maxLength: 100 }), { optional: true }),
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
    const text = entryMrkdwn(e);
    return `\`${exactTime(e.at).slice(11, 19)}\` ${mention(e.actor)} — ${text}${e.link ? ` (${link(e.link, 'message')})` : ''}`;
  });
  // A message holds 50 blocks: the newest entries are shown, and the older ones are counted,
  // not dropped silently; the post-mortem holds every entry.
  const newestFirst = lineSections([...lines].reverse(), {
    maxBlocks: 44,
    more: (n) => `_…and ${n} older entr${n === 1 ? 'y' : 'ies'}: the full timeline is in the post-mortem, \`/incident postmortem ${i.id}\`_`,
  });
  const blocks: Block[] = [header(`Timeline · ${incidentLabel(i)}`), section(times), section(metrics), divider(), ...newestFirst];
  if (entries.length === 0) blocks.push(context('Nothing recorded yet.'));
  const text = `Timeline of INC-${i.id}: declared ${exactTime(i.declaredAt)}, MTTA ${exactDuration(m.mtta)}, MTTM ${exactDuration(m.mttm)}, MTTR ${exactDuration(m.mttr)}\n${lines.join('\n')}`;
  return { text: clipMrkdwn(text, 39_000), blocks: messageBlocks(blocks) };
}

/** People's own words keep their mentions and links; what systems and outsiders sent (alerts, PagerDuty) keeps none. */
const entryMrkdwn = (e: TimelineEntry): string => (/^[UW][A-Z0-9]+$/.test(e.actor) || e.actor === 'firebreak' ? userMrkdwn(e.text) : escapeMrkdwn(e.text));

export function listMessage(open: Incident[], now: Date): ChatMessage {
  if (open.length === 0) return { text: 'No open incidents. :tada:' };
  const lines = open.map(
    (i) =>
      `${SEVERITY_ICON[i.severity] ?? ''} *INC-${i.id}* ${i.severity} · ${escapeMrkdwn(i.title)} · ${STATUS_LABEL[i.status]} · IC ${mention(i.commander)} · ${channelLink(i.channelId, i.channelName)} · open ${exactDuration(now.getTime() - i.declaredAt.getTime())}`,
  );
  const head = `*${open.length} open incident${open.length === 1 ? '' : 's'}*`;
  const blocks = [section(head), ...lineSections(lines, { maxBlocks: 45, more: (n) => `_…and ${n} more open incidents_` })];
  return { text: messageText(`${head}\n${lines.join('\n')}`), blocks: messageBlocks(blocks) };
}

export function updatePosted(i: Incident, actor: string, text: string): ChatMessage {
  return {
    text: messageText(`Update on INC-${i.id}: ${userMrkdwn(text)}`),
    blocks: textSections(`:mega: *Update* from ${mention(actor)} · ${STATUS_LABEL[i.status]}\n${userMrkdwn(text)}`),
  };
}

/** The one-line copy of an update for the announcement channels. */
export function updateCrossPost(i: Incident, text: string): ChatMessage {
  const head = `${SEVERITY_ICON[i.severity] ?? ''} *INC-${i.id}* [${i.severity}] ${escapeMrkdwn(i.title)} · ${STATUS_LABEL[i.status]} — ${channelLink(i.channelId, i.channelName)}`;
  // The copy stays one section; the whole update is in the incident channel.
  const more = (n: number) => `_…and ${n} more characters: the full update is in ${channelLink(i.channelId, i.channelName)}_`;
  return { text: messageText(`INC-${i.id} update: ${userMrkdwn(text)}`), blocks: [section(`${head}\n${userMrkdwn(text)}`, more)] };
}

/** Posted in the incident channel for every change, so the channel itself tells the story. */
export function changeNotice(text: string): ChatMessage {
  return { text: clipMrkdwn(text, 3000), blocks: [context(text)] };
}

export const statusNotice = (actor: string, from: string, to: string): ChatMessage =>
  changeNotice(`:arrows_counterclockwise: ${mention(actor)} changed the status: ${STATUS_LABEL[from] ?? from} → *${STATUS_LABEL[to] ?? to}*`);

export const severityNotice = (actor: string, from: string, to: string, raised: boolean): ChatMessage =>
  changeNotice(`${raised ? ':arrow_up:' : ':arrow_down:'} ${mention(actor)} changed the severity: ${from} → *${to}*${raised ? ` — ${to} policy applied (responders invited, cadence updated)` : ''}`);

export const roleNotice = (actor: string, role: IncidentRole, user: string): ChatMessage =>
  changeNotice(`:busts_in_silhouette: ${mention(user)} is now the ${ROLE_LABEL[role]}${actor !== user ? ` (set by ${mention(actor)})` : ''}`);

export const noteNotice = (actor: string, text: string): ChatMessage => ({
  text: messageText(`Note: ${userMrkdwn(text)}`),
  blocks: textSections(`:memo: Note from ${mention(actor)}: ${userMrkdwn(text)}`),
});

export function reminderMessage(i: Incident, minutes: number, missed: number): ChatMessage {
  const who = i.commander ? mention(i.commander) : 'Nobody is commanding this incident — take command and';
  return {
    text: `INC-${i.id}: no update for ${minutes} minutes`,
    blocks: [
      section(`:alarm_clock: ${who} ${i.commander ? 'please' : ''} post a stakeholder update: none for *${minutes} minutes* (${i.severity} cadence).`.replace(/\s{2,}/g, ' ')),
      context(`Reminder ${missed}. \`/incident update &lt;what changed&gt;\` or the *Post update* button. After two missed reminders the incidents channel is told.`),
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
      ...textSections(`:white_check_mark: ${mention(actor)} resolved *INC-${i.id}*${summary ? `: ${userMrkdwn(summary)}` : ''}`),
      context(`MTTA ${exactDuration(m.mtta)} · MTTM ${exactDuration(m.mttm)} · MTTR ${exactDuration(m.mttr)} · the post-mortem draft follows`),
    ],
  };
}

export function resolvedAnnouncement(i: Incident): ChatMessage {
  const m = incidentMetrics(i);
  return {
    text: `INC-${i.id} resolved: ${escapeMrkdwn(i.title)}`,
    blocks: [section(`:white_check_mark: *Resolved:* INC-${i.id} [${i.severity}] ${escapeMrkdwn(i.title)} after ${exactDuration(m.mttr)} — ${channelLink(i.channelId, i.channelName)}`)],
  };
}

export function reopenedNotice(i: Incident, actor: string, reason?: string): ChatMessage {
  const text = `:leftwards_arrow_with_hook: ${mention(actor)} reopened INC-${i.id}. Status is back to Investigating.`;
  if (!reason) return changeNotice(text);
  return { text: messageText(`${text} Reason: ${userMrkdwn(reason)}`), blocks: [context(text), ...textSections(`*Reason:* ${userMrkdwn(reason)}`)] };
}

export function postmortemPosted(i: Incident, version: number): ChatMessage {
  return {
    text: `Post-mortem draft v${version} for INC-${i.id}`,
    blocks: [
      context(`:page_facing_up: Post-mortem draft v${version} uploaded. Regenerate with \`/incident postmortem ${i.id}\` after editing the timeline; its action items are follow-ups (\`/incident followups ${i.id}\`).`),
      actions(`postmortem-${i.id}`, [addFollowupButton(i.id)]),
    ],
  };
}

/** A one-field modal about an incident: the incident line on top, one text input below. */
function incidentTextModal(i: Incident, m: { callbackId: string; verb: string; submit: string; input: Block }): ModalView {
  return {
    type: 'modal',
    callback_id: m.callbackId,
    private_metadata: JSON.stringify({ incidentId: i.id }),
    title: plain(`${m.verb} INC-${i.id}`, SLACK_LIMITS.viewTitle),
    submit: plain(m.submit, SLACK_LIMITS.viewTitle),
    close: plain('Cancel', SLACK_LIMITS.viewTitle),
    blocks: [context(`${escapeMrkdwn(i.title)} · ${i.severity} · ${STATUS_LABEL[i.status]}`), m.input],
  };
}

/**
 * `update` without text, and the Post update button: a prefilled draft to edit and post. The
 * draft must be plain text (see IncidentService.editableDraft): an input shows it as typed and
 * its value comes back unescaped.
 */
export function updateModal(i: Incident, draft: string): ModalView {
  return incidentTextModal(i, {
    callbackId: 'incident.update', verb: 'Update', submit: 'Post update',
    input: input('text', 'Update', textInput('value', { multiline: true, maxLength: UPDATE_MAX, initialValue: draft })),
  });
}

/** The Resolve button asks for a one-line summary before closing the incident. */
export function resolveModal(i: Incident): ModalView {
  return incidentTextModal(i, {
    callbackId: 'incident.resolve', verb: 'Resolve', submit: 'Resolve',
    input: input('summary', 'Resolution summary', textInput('value', { multiline: true, maxLength: 2000 }), { optional: true }),
  });
}

export const notMemberAnswer = (i: Incident): string =>
  `You're not in ${channelLink(i.channelId, i.channelName)}, so you can't change INC-${i.id}. Join the channel first (or ask the commander, ${mention(i.commander)}). You can still read it: \`/incident timeline ${i.id}\`.`;

export const resolvedAnswer = (i: Incident, sub: string): string =>
  `INC-${i.id} was resolved at ${exactTime(i.resolvedAt)}, so \`${sub}\` no longer applies. If it is back, \`/incident reopen ${i.id}\` first; \`/incident timeline ${i.id}\` and \`/incident postmortem ${i.id}\` still work.`;

export const whichIncidentAnswer = (sub: string, usage: string): string =>
  `Which incident? Run this in the incident's channel, or name it: \`/incident ${sub} &lt;incident-id&gt;${usage ? ' ' + escapeMrkdwn(usage) : ''}\` (e.g. \`/incident ${sub} 12${usage ? ' …' : ''}\`). \`/incident list\` shows the open ones.`;

export const noSuchIncidentAnswer = (id: number): string => `There is no INC-${id}. \`/incident list\` shows the open incidents.`;
