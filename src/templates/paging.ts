import type { ChatMessage, ModalView } from '../chat/surface.js';
import type { Severity } from '../incidents/config.js';
import type { Page } from '../paging/model.js';
import { PD_SEVERITY } from '../paging/model.js';
import type { OnCallEntry } from '../paging/provider.js';
import type { PageRequestOutcome } from '../paging/model.js';
import { duration, utc } from './format.js';
import { actions, button, context, escapeMrkdwn, input, link, messageText, section, textInput, textSections } from './blocks.js';

export const RETRY_PAGING_ACTION = 'paging.retry';

/** Button value naming the page to retry: `<incident id>:<service>`. */
export const retryValue = (incidentId: number, service: string): string => `${incidentId}:${service}`;
export function parseRetryValue(value: string): { incidentId: number; service: string } | undefined {
  const m = /^(\d+):(.+)$/.exec(value);
  return m ? { incidentId: Number(m[1]), service: m[2]! } : undefined;
}

/** Buttons under a page that act on its PagerDuty incident as the person pressing them. */
export const PD_CONTROL_ACTIONS = {
  acknowledge: 'paging.pd_acknowledge',
  resolve: 'paging.pd_resolve',
  escalate: 'paging.pd_escalate',
  reassign: 'paging.pd_reassign',
} as const;
export const PD_REASSIGN_MODAL = 'paging.pd_reassign';

/**
 * The "Paged …" message. Edited in place when PagerDuty's state changes (src/paging
 * refreshNotice): acknowledged (by a Slack user id or PagerDuty's name for the person) drops
 * the Acknowledge button, resolved drops them all.
 */
export function pagedNotice(page: Page, severity: Severity, attempts: number, retriedBy?: string, controls = false): ChatMessage {
  const retried = attempts > 1 ? ` after ${attempts} attempts` : '';
  const by = retriedBy ? ` Retried by <@${retriedBy}>.` : '';
  const text = `📟 Paged *${escapeMrkdwn(page.service)}* on PagerDuty (${severity} → ${PD_SEVERITY[severity]})${retried}.${by}`;
  const blocks: ChatMessage['blocks'] = [context(text)];
  const resolved = page.status === 'resolved';
  const ackBy = page.acknowledgedBy ? (/^[UW][A-Z0-9]+$/.test(page.acknowledgedBy) ? `<@${page.acknowledgedBy}>` : `*${escapeMrkdwn(page.acknowledgedBy)}*`) : undefined;
  if (resolved) blocks.push(context(`✅ Resolved in PagerDuty${page.resolvedAt ? ` ${utc(page.resolvedAt)}` : ''}.`));
  else if (ackBy) blocks.push(context(`✋ Acknowledged in PagerDuty by ${ackBy}${page.acknowledgedAt ? ` ${utc(page.acknowledgedAt)}` : ''}.`));
  if (controls && !resolved) {
    const v = String(page.id);
    blocks.push(actions(`pd-controls-${page.id}`, [
      ...(ackBy ? [] : [button('Acknowledge', PD_CONTROL_ACTIONS.acknowledge, v, 'primary')]),
      button('Resolve', PD_CONTROL_ACTIONS.resolve, v),
      button('Escalate', PD_CONTROL_ACTIONS.escalate, v, 'danger'),
      button('Reassign…', PD_CONTROL_ACTIONS.reassign, v),
    ]));
  }
  const state = resolved ? ' (resolved)' : ackBy ? ' (acknowledged)' : '';
  return { text: `Paged ${escapeMrkdwn(page.service)} on PagerDuty${state}`, blocks };
}

/** Said in the incident channel after a change made in PagerDuty from Slack. */
export function pdControlDone(o: { actor: string; control: 'acknowledge' | 'resolve' | 'escalate' | 'reassign'; service: string; detail?: string }): ChatMessage {
  const verb = { acknowledge: 'acknowledged', resolve: 'resolved', escalate: 'escalated', reassign: 'reassigned' }[o.control];
  const text = `📟 <@${o.actor}> ${verb} the *${escapeMrkdwn(o.service)}* page in PagerDuty${o.detail ? ` ${o.detail}` : ''}.`;
  return { text: `${verb} the ${escapeMrkdwn(o.service)} page in PagerDuty`, blocks: [context(text)] };
}

/** Reassign: a person (mapped to PagerDuty by e-mail) or an escalation policy. */
export function pdReassignModal(ref: { pageId: number } | { groupId: number }, channelId: string | undefined): ModalView {
  return {
    type: 'modal',
    callback_id: PD_REASSIGN_MODAL,
    title: { type: 'plain_text', text: 'Reassign in PagerDuty' },
    submit: { type: 'plain_text', text: 'Reassign' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify({ ...ref, ...(channelId ? { channelId } : {}) }),
    blocks: [
      input('user', 'Person', { type: 'users_select', action_id: 'value' }, { optional: true }),
      input('policy', 'Or escalation policy id', textInput('value', { maxLength: 20, placeholder: 'PABC123' }), { optional: true }),
    ],
  };
}

export function pageFailedMessage(page: Page, attempts: number, error: string): ChatMessage {
  const text =
    `⚠️ *Paging ${escapeMrkdwn(page.service)} failed*${attempts > 0 ? ` after ${attempts} attempt${attempts === 1 ? '' : 's'}` : ''}: ${escapeMrkdwn(error)}\n` +
    `On-call has *not* been paged by Firebreak. Retry below, or page them by hand in PagerDuty.`;
  return {
    text: messageText(`Paging ${escapeMrkdwn(page.service)} failed: ${escapeMrkdwn(error)}`),
    blocks: [
      section(text),
      actions(`paging-retry-${page.incidentId}-${page.service}`.slice(0, 255), [button('Retry paging', RETRY_PAGING_ACTION, retryValue(page.incidentId, page.service), 'primary')]),
    ],
  };
}

/** Delivery failed for now and goes on in the background: people may page by hand meanwhile. */
export function pageDelayedMessage(page: Page, attempts: number, error: string): ChatMessage {
  const text =
    `⏳ *Paging ${escapeMrkdwn(page.service)} is delayed*: ${attempts} attempt${attempts === 1 ? '' : 's'} failed (${escapeMrkdwn(error)}).\n` +
    `Firebreak keeps trying in the background for about an hour and says here when on-call is paged. If it is urgent, page them by hand in PagerDuty.`;
  return { text: messageText(`Paging ${escapeMrkdwn(page.service)} is delayed: ${escapeMrkdwn(error)}`), blocks: [section(text)] };
}

export function resolveFailedMessage(page: Page, error: string): ChatMessage {
  const text = `⚠️ Could not resolve the PagerDuty alert for *${escapeMrkdwn(page.service)}*: ${escapeMrkdwn(error)}. Resolve it in PagerDuty so on-call stops being notified.`;
  return { text: `Resolving the PagerDuty alert for ${escapeMrkdwn(page.service)} failed`, blocks: [section(text)] };
}

export function acknowledgedMessage(by: string, mttaMs: number | null, pdUrl?: string | null): ChatMessage {
  const where = link(pdUrl, 'PagerDuty');
  const mtta = mttaMs !== null ? ` · time to acknowledge ${duration(mttaMs)}` : '';
  return { text: `${escapeMrkdwn(by)} acknowledged the page`, blocks: [section(`✋ *${escapeMrkdwn(by)}* acknowledged the page in ${where}${mtta}.`)] };
}

/** incident.escalated, .reassigned or .delegated: who has the page now. */
export function escalatedMessage(eventType: string, to: string | undefined): ChatMessage {
  const verb = eventType.replace(/^incident\./, '');
  const text = `⏫ PagerDuty ${escapeMrkdwn(verb)} the page${to ? `: now with *${escapeMrkdwn(to)}*` : ''}.`;
  return { text: `PagerDuty ${escapeMrkdwn(verb)} the page`, blocks: [context(text)] };
}

export function pdNoteMessage(by: string, note: string, pdUrl?: string | null): ChatMessage {
  const text = `🗒️ Note from *${escapeMrkdwn(by)}* in ${link(pdUrl, 'PagerDuty')}: ${escapeMrkdwn(note)}`;
  return { text: `PagerDuty note from ${escapeMrkdwn(by)}`, blocks: textSections(text, { maxBlocks: 4 }) };
}

export function pdResolvedMessage(by: string | undefined): ChatMessage {
  const text = `PagerDuty's alert was resolved in PagerDuty${by ? ` by ${escapeMrkdwn(by)}` : ''}. This incident stays open until someone resolves it here.`;
  return { text: 'PagerDuty alert resolved in PagerDuty', blocks: [context(text)] };
}

export function onCallMessage(entries: OnCallEntry[], scope: string): ChatMessage {
  if (entries.length === 0) return { text: `Nobody is on call for ${scope} according to PagerDuty.` };
  const byPolicy = new Map<string, OnCallEntry[]>();
  for (const e of entries) byPolicy.set(e.escalationPolicyName, [...(byPolicy.get(e.escalationPolicyName) ?? []), e]);
  const parts: string[] = [];
  for (const [policy, list] of [...byPolicy].sort(([a], [b]) => a.localeCompare(b))) {
    const lines = list
      .sort((a, b) => a.escalationLevel - b.escalationLevel || a.userName.localeCompare(b.userName))
      .map((e) => {
        const who = link(e.userUrl, e.userName);
        const until = e.end ? `until ${utc(new Date(e.end))}` : 'always on call';
        return `• L${e.escalationLevel} ${who}${e.scheduleName ? ` (${escapeMrkdwn(e.scheduleName)})` : ''} — ${until}`;
      });
    parts.push(`*${escapeMrkdwn(policy)}*\n${lines.join('\n')}`);
  }
  const text = `On call now for ${escapeMrkdwn(scope)}:\n${parts.join('\n')}`;
  return { text: messageText(text), blocks: textSections(text, { maxBlocks: 10 }) };
}

/** One line for the incident headline ("Paging: …"). */
export function pagingHeadline(enabled: boolean, pages: Page[]): string {
  if (pages.length === 0) return enabled ? 'not paged' : 'off (no PagerDuty key configured)';
  const label: Record<Page['status'], string> = {
    pending: 'paging…', triggered: 'paged', failed: 'FAILED', resolved: 'resolved', resolve_failed: 'resolve failed',
  };
  return pages.map((p) => `${p.service} ${label[p.status]}`).join(', ');
}

/** What the person who asked for a page (command or Retry button) is told right away. */
export function pageRequestReply(out: PageRequestOutcome, incidentId: number): ChatMessage {
  switch (out.status) {
    case 'started':
      return { text: `Paging *${escapeMrkdwn(out.page.service)}* for INC-${incidentId}… the incident channel will say when PagerDuty has it.` };
    case 'already': {
      const p = out.page;
      const state = p.status === 'pending' ? 'is being paged right now' : p.triggeredAt ? `was paged at ${utc(p.triggeredAt)} and is still open` : 'was already paged';
      return { text: `*${escapeMrkdwn(p.service)}* ${state} for INC-${incidentId}; PagerDuty keeps notifying on-call until the incident is resolved.` };
    }
    case 'disabled':
      return { text: 'Paging is off: no PagerDuty routing key is configured. Set `PAGERDUTY_ROUTING_KEY` to turn it on.' };
    case 'no_key':
      return { text: `\`${escapeMrkdwn(out.service)}\` has no routing key: set \`${out.envName}\` to its PagerDuty Events API v2 integration key.` };
    case 'unknown_service':
      return { text: `I don't know the service \`${escapeMrkdwn(out.service)}\`. Services I can page: ${out.known.map((s) => `\`${s}\``).join(', ') || 'none'}.` };
    case 'no_incident':
      return { text: `Incident ${out.incidentId} doesn't exist.` };
    case 'incident_resolved':
      return { text: `INC-${out.incidentId} is resolved, so I won't page anyone for it. Reopen it first if it is back.` };
  }
}
