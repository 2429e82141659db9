/**
 * What the status page area says in chat: the publish form (prefilled from the customer or
 * resolved template), the offer of a resolved notice, the note that something went public,
 * and replies. Text from people and config is escaped; the form's inputs are plain text.
 */
import type { ChatMessage, ModalView } from '../chat/surface.js';
import type { GateOutcome } from '../approvals/gate.js';
import { COMPONENT_STATES, PUBLIC_STATUSES, STATE_LABEL, type ComponentState, type PublicStatus } from '../statuspage/model.js';
import { actions, button, context, escapeMrkdwn, input, link, option, section, staticSelect, textInput } from './blocks.js';

export const STATUSPAGE_MODAL = 'statuspage.publish';
/** Opens the form for an update (the customer draft's button). */
export const OPEN_PUBLISH_ACTION = 'statuspage.open';
/** Opens the form prefilled as the resolution (offered when the incident is resolved). */
export const OPEN_RESOLVED_ACTION = 'statuspage.open_resolved';
const NOT_AFFECTED = 'none';
export const COMPONENT_BLOCK = 'component:';

export interface PublishModalData {
  incidentId: number;
  channelId?: string;
}

const STATUS_LABEL: Record<PublicStatus, string> = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' };

export function publishModal(o: {
  incidentId: number;
  channelId?: string;
  title: string;
  status: PublicStatus;
  body: string;
  components: { id: string; name: string; group?: string }[];
  states: Record<string, ComponentState>;
  /** Already public: this is a later update or the resolution. */
  existing: boolean;
}): ModalView {
  const statusOptions = PUBLIC_STATUSES.map((s) => option(STATUS_LABEL[s], s));
  const stateOptions = [option('Not affected', NOT_AFFECTED), ...COMPONENT_STATES.map((s) => option(STATE_LABEL[s], s))];
  const componentInputs = o.components.slice(0, 90).map((c) => {
    const current = o.states[c.id];
    return input(`${COMPONENT_BLOCK}${c.id}`, `${c.group ? `${c.group} / ` : ''}${c.name}`, staticSelect('value', stateOptions, stateOptions.find((x) => x.value === (current ?? NOT_AFFECTED))));
  });
  return {
    type: 'modal',
    callback_id: STATUSPAGE_MODAL,
    title: { type: 'plain_text', text: 'Status page' },
    submit: { type: 'plain_text', text: 'Ask for approval' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify({ incidentId: o.incidentId, ...(o.channelId ? { channelId: o.channelId } : {}) } satisfies PublishModalData),
    blocks: [
      section(`${o.existing ? 'A new public update' : 'The first public post'} for INC-${o.incidentId}. *Only what you write here goes public*, and only after someone else approves it (\`statuspage.publish\`).`),
      input('title', 'Public title', textInput('value', { maxLength: 200, initialValue: o.title })),
      input('status', 'Public status', staticSelect('value', statusOptions, statusOptions.find((x) => x.value === o.status))),
      ...componentInputs,
      input('body', 'Public message', textInput('value', { multiline: true, maxLength: 3000, initialValue: o.body }), { hint: 'Prefilled from the customer template. No internal names, hosts or people.' }),
    ],
  };
}

/** The component states a submitted form chose; "Not affected" leaves a component out. */
export function componentsFromForm(values: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [block, v] of Object.entries(values)) {
    if (!block.startsWith(COMPONENT_BLOCK) || !v || v === NOT_AFFECTED) continue;
    out[block.slice(COMPONENT_BLOCK.length)] = v;
  }
  return out;
}

/** The button under the customer draft: the same form. */
export const publishButton = (incidentId: number) => actions('statuspage-publish', [button('Publish on status page', OPEN_PUBLISH_ACTION, String(incidentId))]);

/** Posted in the incident channel when it is resolved while its public incident is still open. */
export function resolvedNoticeOffer(incidentId: number, title: string): ChatMessage {
  return {
    text: `INC-${incidentId} is resolved; the status page still shows it as open`,
    blocks: [
      section(`:white_check_mark: INC-${incidentId} is resolved, but the status page still shows *${escapeMrkdwn(title)}* as open. Publish the resolved notice (it goes through approval like every public update).`),
      actions('statuspage-resolved', [button('Publish resolved notice', OPEN_RESOLVED_ACTION, String(incidentId), 'primary')]),
    ],
  };
}

export function publishedNote(o: { incidentId: number; status: PublicStatus; url: string }): ChatMessage {
  return {
    text: `Status page updated for INC-${o.incidentId} (${o.status})`,
    blocks: [context(`:globe_with_meridians: Approved and published on the status page (${STATUS_LABEL[o.status]}): ${link(o.url, 'public incident')}`)],
  };
}

export function syncFailedNote(reason: string): ChatMessage {
  return {
    text: 'The status page update could not be copied to Atlassian Statuspage',
    blocks: [context(`:warning: The approved update is public on Firebreak's status page, but Atlassian Statuspage did not take it after several tries: ${escapeMrkdwn(reason.slice(0, 300))}. Post it there by hand or publish the next update once it is back (unsynced updates are sent with it).`)],
  };
}

export function publishOutcomeText(o: GateOutcome): string {
  switch (o.status) {
    case 'pending':
      return `:hourglass: Your status page update is waiting for approval (change request #${o.requestId}, ${o.approvalsNeeded} approval${o.approvalsNeeded === 1 ? '' : 's'} needed). Nothing is public until it is approved.`;
    case 'started':
      return `:globe_with_meridians: Publishing your status page update (${o.reason}).`;
    case 'refused':
      return `Your status page update was not sent: ${escapeMrkdwn(o.message)}`;
  }
}

export const statusPageReplies = {
  off: 'The status page is off: set `statusPage.enabled: true` in the configuration to publish.',
  notMember: (id: number) => `Only people in INC-${id}'s channel can publish its status page updates: join the channel first.`,
  noIncident: (value: string) => `There is no incident ${escapeMrkdwn(value)}.`,
  invalid: (errors: Record<string, string>) => `Your status page update was not sent: ${escapeMrkdwn(Object.values(errors).join(' '))}`,
};
