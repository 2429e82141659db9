import type { ChatMessage } from '../chat/surface.js';
import type { Incident } from '../incidents/model.js';
import { SEVERITY_MEANING } from '../incidents/model.js';
import { context, escapeMrkdwn, mention, section, utc } from './format.js';

/**
 * The communication templates of the ops practice: internal status update, customer /
 * status-page update, executive summary, resolved notice. Each is a draft for a human to
 * send; Firebreak fills what it knows.
 */
export type CommsKind = 'internal' | 'customer' | 'executive' | 'resolved';

const TITLES: Record<CommsKind, string> = {
  internal: 'Internal status update',
  customer: 'Customer / status page update',
  executive: 'Executive summary',
  resolved: 'Resolved notice',
};

export function renderComms(kind: CommsKind, i: Incident, update?: string): string {
  const what = escapeMrkdwn(i.summary ?? i.title);
  const latest = update ? escapeMrkdwn(update) : 'We are investigating.';
  switch (kind) {
    case 'internal':
      return `[${i.severity}] INC-${i.id} ${escapeMrkdwn(i.title)} — status: ${i.status}\nImpact: ${what}\nCurrent: ${latest}\nIncident commander: ${mention(i.commander)}\nNext update: at the severity's cadence, or sooner if anything changes.`;
    case 'customer':
      return `We are aware of an issue affecting ${i.service ? escapeMrkdwn(i.service) : 'our service'}. ${latest} We will post another update as soon as we know more.`;
    case 'executive':
      return `${i.severity} (${SEVERITY_MEANING[i.severity]}) since ${utc(i.declaredAt)}: ${escapeMrkdwn(i.title)}.\nCustomer impact: ${what}\nStatus: ${i.status}. Owner: ${mention(i.commander)}.\nDecisions needed: none yet.`;
    case 'resolved':
      return `Resolved: ${escapeMrkdwn(i.title)} (INC-${i.id}). The issue ${i.service ? `affecting ${escapeMrkdwn(i.service)} ` : ''}was resolved at ${utc(i.resolvedAt)}. A post-mortem will follow.`;
  }
}

export function commsMessage(kind: CommsKind, i: Incident, update?: string): ChatMessage {
  const body = renderComms(kind, i, update);
  return {
    text: `${TITLES[kind]} draft for INC-${i.id}`,
    blocks: [section(`*${TITLES[kind]}* — draft`), section('```' + body + '```'), context('Copy, adjust and send. Drafts are filled from the incident record.')],
  };
}
