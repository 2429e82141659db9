import type { Button } from '@slack/types';
import type { Block, ChatMessage } from '../chat/surface.js';
import type { AlertGroup, StoredAlert } from '../alerts/model.js';
import { alertTitle } from '../alerts/model.js';
import type { Labels } from '../alerts/matchers.js';
import { duration, utc } from './format.js';
import { actions, button, context, escapeMrkdwn, lineSections, link, messageBlocks, messageText, safeUrl, section } from './blocks.js';
import { SLACK_LIMITS } from './slack-limits.js';

export const ALERT_ACTIONS = {
  runbook: 'alerts.runbook',
  declare: 'alerts.declare',
  acknowledge: 'alerts.acknowledge',
  silence: 'alerts.silence',
  expireSilence: 'alerts.expire_silence',
  unmute: 'alerts.unmute',
  /** On groups from PagerDuty: act on the PagerDuty incidents as the person (src/paging/alert-controls.ts). */
  pdAcknowledge: 'alerts.pd_acknowledge',
  pdResolve: 'alerts.pd_resolve',
  pdEscalate: 'alerts.pd_escalate',
  pdReassign: 'alerts.pd_reassign',
} as const;

/** What a group's message shows about its firing PagerDuty incidents (source `pagerduty`). */
export interface PdGroupStatus {
  /** Whether the buttons can act (the PagerDuty REST API token is configured). */
  controls: boolean;
  /** Firing PagerDuty incidents in the group. */
  incidents: number;
  /** Their acknowledgements in PagerDuty: by a Slack user id (from Slack) or PagerDuty's name for the person. */
  acknowledged: { by: string; slackUser: boolean; at: Date }[];
}

/** A silence at the source that covers some of a group's firing alerts. */
export interface SourceSilenceBadge {
  alertmanager: string;
  /** "Alertmanager main" or "Grafana grafana". */
  where?: string;
  id: string;
  /** Alertmanager's createdBy (the Slack name when made from Firebreak). */
  createdBy: string;
  /** The Slack user, when made from Firebreak. */
  slackUser: string | null;
  endsAt: Date;
  /** How many of the group's firing alerts it covers. */
  covers: number;
}

/** What src/silences knows about a group: how it is silenced and where. */
export interface GroupControlStatus {
  /** The Alertmanager that owns the group's alerts; null when their source has no silences. */
  owner: string | null;
  /** Alert sources of the group without any silences (generic, SNS, ...): Firebreak mutes locally. */
  localOnlySources: string[];
  silences: SourceSilenceBadge[];
  allFiringSilenced: boolean;
  /** A maintenance window covering the group's alerts, if any (src/maintenance). */
  maintenance?: { id: number; reason: string; endsAt: Date; by: string } | undefined;
  /** The group's PagerDuty incidents, when its alerts came from PagerDuty (src/paging). */
  pagerduty?: PdGroupStatus | undefined;
}

export interface GroupView {
  group: AlertGroup;
  firing: StoredAlert[];
  /** Firing but muted by an inhibit rule: counted, not listed. */
  inhibited: StoredAlert[];
  resolved: StoredAlert[];
  mentions: string[];
  maxShown: number;
  now: Date;
  incident?: { id: number; channelId: string | null } | undefined;
  controls?: GroupControlStatus | undefined;
}

const labelsText = (l: Labels): string =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(', ');

/** Labels that tell alerts of one group apart: everything not shared by all of them. */
function distinguishing(alert: StoredAlert, group: AlertGroup): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(alert.labels)) if (k !== 'alertname' && group.groupLabels[k] === undefined) out[k] = v;
  return out;
}

/** Who acted: a Slack user as a mention; anyone else (`pagerduty:Dana`) as plain text. */
const actorText = (actor: string): string => (/^[UW][A-Z0-9]+$/.test(actor) ? `<@${actor}>` : escapeMrkdwn(actor.replace(/^pagerduty:/, '') + (actor.startsWith('pagerduty:') ? ' (in PagerDuty)' : '')));

/** A time the reader's Slack shows in their own zone; the message is not re-rendered as time passes, so no "for 5m". */
const slackTime = (d: Date): string => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${utc(d)}>`;

function alertLine(a: StoredAlert, g: AlertGroup): string {
  const extra = labelsText(distinguishing(a, g));
  const title = escapeMrkdwn(alertTitle(a));
  if (a.status === 'resolved') return `✅ ~${title}~ ${extra ? `\`${escapeMrkdwn(extra)}\` ` : ''}resolved ${slackTime(a.endsAt ?? a.lastReceivedAt)}`;
  // generatorURL is the sender's: a link only when it is a plain http(s) URL Slack accepts, never markup.
  const source = safeUrl(a.generatorUrl) ? ` ${link(a.generatorUrl, 'source')}` : '';
  return `🔴 *${title}* ${extra ? `\`${escapeMrkdwn(extra)}\` ` : ''}firing since ${slackTime(a.startsAt)}${source}`;
}

/** The first http(s) runbook_url of the alerts, whether or not Slack can take it as a button. */
function runbookAnnotation(alerts: StoredAlert[]): string | undefined {
  return alerts.map((a) => a.annotations.runbook_url).find((u) => u && /^https?:\/\//i.test(u));
}

/** The runbook link a button can carry: a URL Slack accepts (http(s), no markup, within its length limit). */
export function runbookUrl(alerts: StoredAlert[]): string | undefined {
  return safeUrl(runbookAnnotation(alerts));
}

/** What a group is called: its alertname, or the first alert's title. */
export function groupTitle(g: AlertGroup, alerts: StoredAlert[]): string {
  return g.groupLabels.alertname ?? (alerts[0] ? alertTitle(alerts[0]) : 'Alerts');
}

/** The one message that shows an alert group, re-rendered in place as it changes. */
export function alertGroupMessage(v: GroupView): ChatMessage {
  const { group: g, firing, inhibited, resolved } = v;
  const all = [...firing, ...resolved];
  const title = groupTitle(g, [...firing, ...inhibited, ...resolved]);
  const state = firing.length > 0 ? `🔥 *FIRING: ${firing.length}*` : inhibited.length > 0 ? '🔕 *INHIBITED*' : '✅ *RESOLVED*';
  const head = `${state} — *${escapeMrkdwn(title)}*${Object.keys(g.groupLabels).length ? `  \`${escapeMrkdwn(labelsText(g.groupLabels))}\`` : ''}`;
  const shown = all.slice(0, v.maxShown);
  const lines = shown.map((a) => `• ${alertLine(a, g)}`);
  const counts = `(${firing.length} firing, ${resolved.length} resolved)`;
  // The "…and N more" line is part of the list, so it survives however the list is split.
  if (all.length > shown.length) lines.push(`_…and ${all.length - shown.length} more ${counts}_`);
  const blocks: Block[] = [section(head)];
  if (firing.length > 0 && v.mentions.length) blocks.push(section(v.mentions.join(' ')));
  if (lines.length) blocks.push(...lineSections(lines, { maxBlocks: 10, more: (n) => `_…and ${n} more ${counts}_` }));
  const notes: string[] = [];
  if (resolved.length && firing.length) notes.push(`${resolved.length} resolved`);
  if (inhibited.length) notes.push(`${inhibited.length} inhibited by a more important alert`);
  const pd = firing.length > 0 ? v.controls?.pagerduty : undefined;
  const pdAcks = pd?.acknowledged ?? [];
  if (pdAcks.length) {
    const who = [...new Set(pdAcks.map((a) => (a.slackUser ? `<@${a.by}>` : escapeMrkdwn(a.by))))].join(', ');
    const part = pdAcks.length < pd!.incidents ? ` (${pdAcks.length} of ${pd!.incidents} incidents)` : '';
    notes.push(`📟 acknowledged in PagerDuty by ${who} ${utc(pdAcks[0]!.at)}${part}`);
  } else if (g.acknowledgedBy) notes.push(`acknowledged by ${actorText(g.acknowledgedBy)} ${utc(g.acknowledgedAt)}`);
  const mw = v.controls?.maintenance;
  if (mw) notes.unshift(`🛠 *In maintenance #${mw.id}* until ${utc(mw.endsAt)} (<@${mw.by}>: ${escapeMrkdwn(mw.reason)}): no auto-declare, no escalation`);
  const atSource = v.controls?.silences ?? [];
  for (const s of atSource.slice(0, 3)) {
    const by = s.slackUser ? `<@${s.slackUser}>` : escapeMrkdwn(s.createdBy || 'someone');
    const part = s.covers < firing.length ? ` (${s.covers} of ${firing.length} firing)` : '';
    notes.push(`🔕 silenced in ${escapeMrkdwn(s.where ?? `Alertmanager ${s.alertmanager}`)} by ${by} until ${utc(s.endsAt)}, silence id \`${escapeMrkdwn(s.id)}\`${part}`);
  }
  if (atSource.length > 3) notes.push(`${atSource.length - 3} more silences (\`/alerts silences\`)`);
  const mutedHere = !!g.silencedUntil && g.silencedUntil > v.now;
  if (mutedHere && atSource.length === 0) {
    const why = v.controls?.localOnlySources.length ? ` (${escapeMrkdwn(v.controls.localOnlySources.join(', '))} alerts have no silences at the source)` : '';
    notes.push(`🔕 muted in Firebreak only by <@${g.silencedBy}> until ${utc(g.silencedUntil)}${why}`);
  }
  if (v.incident) notes.push(`part of INC-${v.incident.id}${v.incident.channelId ? ` <#${v.incident.channelId}>` : ''}`);
  notes.push(`group #${g.id} · first seen ${utc(g.createdAt)}`);
  const annotated = runbookAnnotation(firing.length ? firing : all);
  if (annotated && !safeUrl(annotated)) {
    notes.push(annotated.length > SLACK_LIMITS.url
      ? `runbook link not shown: it is ${annotated.length} characters and Slack takes ${SLACK_LIMITS.url} (see the alert's runbook_url annotation)`
      : 'runbook link not shown: it is not a plain http(s) URL');
  }
  blocks.push(context(notes.join(' · ')));
  const elements: Button[] = [];
  const rb = runbookUrl(firing.length ? firing : all);
  if (rb) elements.push(button('Runbook', ALERT_ACTIONS.runbook, String(g.id), undefined, rb));
  if (firing.length > 0) {
    if (!v.incident) elements.push(button('Declare incident', ALERT_ACTIONS.declare, String(g.id), 'danger'));
    if (pd?.controls) {
      // PagerDuty's incidents: the buttons act there, as the person; Acknowledge goes once PagerDuty says so.
      if (pdAcks.length < pd.incidents) elements.push(button('Acknowledge', ALERT_ACTIONS.pdAcknowledge, String(g.id), 'primary'));
      elements.push(button('Resolve', ALERT_ACTIONS.pdResolve, String(g.id)), button('Escalate', ALERT_ACTIONS.pdEscalate, String(g.id), 'danger'), button('Reassign…', ALERT_ACTIONS.pdReassign, String(g.id)));
    } else if (!g.acknowledgedBy) elements.push(button('Acknowledge', ALERT_ACTIONS.acknowledge, String(g.id), 'primary'));
    if (!mutedHere && !v.controls?.allFiringSilenced) elements.push(button('Silence…', ALERT_ACTIONS.silence, String(g.id)));
  }
  const expirable = atSource[0];
  if (expirable) elements.push(button('Expire silence', ALERT_ACTIONS.expireSilence, `${expirable.alertmanager}/${expirable.id}`));
  else if (mutedHere) elements.push(button('Unmute', ALERT_ACTIONS.unmute, String(g.id)));
  if (elements.length) blocks.push(actions(`alert-group-${g.id}`, elements));
  const text = firing.length > 0 ? `FIRING: ${firing.length} ${escapeMrkdwn(title)}` : `RESOLVED: ${escapeMrkdwn(title)}`;
  return { text: messageText(`${text}${firing.length && v.mentions.length ? ` ${v.mentions.join(' ')}` : ''}`), blocks: messageBlocks(blocks) };
}

export function stillFiringMessage(firing: number, repeatMs: number): ChatMessage {
  const text = `⏰ Still firing: ${firing} alert${firing === 1 ? '' : 's'} (reminder every ${duration(repeatMs)} until resolved, acknowledged or silenced).`;
  return { text, blocks: [context(text)] };
}

/** Said in a group's thread when it escalates; `outcome` is Firebreak's own text (mrkdwn it wrote). */
export function escalationNotice(firing: number, afterMs: number, outcome: string): ChatMessage {
  const text = `⏫ Nobody acknowledged this within ${duration(afterMs)} (${firing} firing): ${outcome}. Acknowledge, silence or resolve to stop further escalation.`;
  return { text: messageText(text), blocks: [section(text)] };
}

/** To the ops channel: alerts are routed to a channel the bot cannot post in. */
export function goneChannelReport(channel: string, code: string): ChatMessage {
  return {
    text: `:warning: Alerts routed to #${channel} cannot be posted (${code}): create #${channel} and invite the bot, or change the route in alerts.route. Alert groups for it are dropped until then (\`/alerts\` and the database still have them).`,
  };
}

export function groupResolvedInIncident(title: string, groupId: number): ChatMessage {
  const text = `✅ Every alert in *${escapeMrkdwn(title)}* (group #${groupId}) has resolved. The incident stays open: resolve it when you are satisfied.`;
  return { text: `All alerts of ${escapeMrkdwn(title)} resolved`, blocks: [section(text)] };
}

export const alertReplies = {
  unknownGroup: (value: string): string => `That alert group (${escapeMrkdwn(value)}) no longer exists; it may have been cleaned up.`,
  acknowledged: (title: string): string => `You acknowledged *${escapeMrkdwn(title)}*; reminders stop for this group until it resolves.`,
  alreadyAcknowledged: (by: string): string => `Already acknowledged by <@${by}>.`,
  silenced: (title: string, until: Date): string => `Silenced *${escapeMrkdwn(title)}* until ${utc(until)}: no new posts or reminders for it until then (the message still updates).`,
  declared: (id: number): string => `Declaring INC-${id} for this alert group; its channel is being set up.`,
  alreadyDeclared: (id: number): string => `This group is already part of INC-${id}.`,
};
