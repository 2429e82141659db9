/**
 * What configuration versions say in chat and on the CLI: history, one version, a diff, the
 * outcome of a proposal or rollback, and the ops channel notices. Plain text from the domain is
 * escaped here, once (keys and values come from a YAML file someone wrote).
 */
import type { ChatMessage, ModalView } from '../chat/surface.js';
import type { GateOutcome } from '../approvals/gate.js';
import { escapeMrkdwn, input, lineSections, messageText, plain, section, textInput } from './blocks.js';
import type { HistoryRow, StoredVersion } from '../configversions/store.js';
import type { DiffLine } from '../configversions/effective.js';
import { diffLineText } from '../configversions/effective.js';
import { describeFlag } from '../flags/flags.js';
import type { FlagsConfig } from '../flags/config.js';

export const CONFIG_PROPOSE_MODAL = 'config_propose';
export const YAML_BLOCK = 'yaml';

const short = (hash: string) => hash.slice(0, 12);
const when = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

/** `#12 active 2026-12-04T00:00:00Z by U1 (slack) approved by U2 abcdef012345`: one line per version. */
export function historyLine(v: HistoryRow): string {
  const approved = v.approvers.length ? ` approved by ${v.approvers.join(', ')}` : '';
  const commit = v.gitCommit ? ` commit ${v.gitCommit.slice(0, 12)}` : '';
  const why = v.failureReason ? ` (${v.failureReason})` : '';
  return `#${v.id} ${v.status}${why} ${when(v.createdAt)} by ${v.author} (${v.source})${approved} ${short(v.hash)}${commit}`;
}

export const historyText = (rows: HistoryRow[]): string => (rows.length ? rows.map(historyLine).join('\n') : 'No configuration versions are stored yet.');

/** A version, its metadata and effective configuration (secrets already masked). */
export function showText(v: StoredVersion): string {
  const head = [
    `version #${v.id} (${v.status})`,
    `hash ${v.hash}`,
    `author ${v.author} (${v.source}) at ${when(v.createdAt)}`,
    ...(v.gitCommit ? [`commit ${v.gitCommit}`] : []),
    ...(v.previousId ? [`previous #${v.previousId}`] : []),
    ...(v.changeId ? [`change request #${v.changeId}`] : []),
    ...(v.failureReason ? [`reason: ${v.failureReason}`] : []),
  ];
  return `${head.join('\n')}\n\n--- file as proposed ---\n${v.content || '(empty: defaults and environment only)'}\n--- effective (defaults applied, secrets masked) ---\n${JSON.stringify(v.effective, null, 2)}`;
}

export const diffText = (lines: DiffLine[]): string => (lines.length ? lines.map(diffLineText).join('\n') : 'No difference in the effective configuration.');

/** One line for the approver: the version and as much of its diff as fits (the gate clips titles to 300). */
export function changeTitle(what: string, lines: DiffLine[], max = 300): string {
  let title = `${what}: ${lines.length} change${lines.length === 1 ? '' : 's'}`;
  for (let i = 0; i < lines.length; i++) {
    const more = lines.length - i - 1;
    const next = `${i === 0 ? ' — ' : '; '}${diffLineText(lines[i]!)}`;
    const tail = more ? `; …${more} more` : '';
    if ((title + next + tail).length > max) return `${title}; …${lines.length - i} more (see /config show)`.slice(0, max);
    title += next;
  }
  return title;
}

const block = (text: string): string => '```' + escapeMrkdwn(text).replace(/```/g, "'''") + '```';

export function chatText(title: string, body: string): ChatMessage {
  const head = `*${escapeMrkdwn(title)}*`;
  return { text: messageText(`${title}\n${body}`), blocks: [section(head), ...lineSections(body.split('\n').map((l) => escapeMrkdwn(l)), { maxBlocks: 20 })] };
}

/** Long text (a version's file) in a code block, split to fit. */
export function codeMessage(title: string, body: string): ChatMessage {
  const chunks: string[] = [];
  for (let i = 0; i < body.length && chunks.length < 20; i += 2800) chunks.push(body.slice(i, i + 2800));
  return { text: messageText(`${title}\n${body}`), blocks: [section(`*${escapeMrkdwn(title)}*`), ...chunks.map((c) => section(block(c)))] };
}

export type ProposeView =
  | { status: 'invalid'; problems: string[] }
  | { status: 'env-only'; keys: string[]; message: string }
  | { status: 'unchanged'; version: StoredVersion }
  | { status: 'gated'; version: StoredVersion; gate: GateOutcome; diff: DiffLine[] };

export function proposeOutcomeText(o: ProposeView, what = 'Configuration'): string {
  switch (o.status) {
    case 'invalid':
      return `${what} refused, nothing changed:\n${o.problems.map((p) => `  - ${p}`).join('\n')}`;
    case 'env-only':
      return `${what} refused, nothing changed: ${o.message}`;
    case 'unchanged':
      return `${what} is the same as the running version #${o.version.id}: nothing to change.`;
    case 'gated': {
      const g = o.gate;
      const head = g.status === 'pending'
        ? `Version #${o.version.id} proposed: change request #${g.requestId} needs ${g.approvalsNeeded} approval${g.approvalsNeeded === 1 ? '' : 's'} (\`config.change\`).`
        : g.status === 'started' ? `Version #${o.version.id} is being switched to now (${g.reason}).` : `Version #${o.version.id} not switched to: ${g.message}`;
      return `${head}\n${diffText(o.diff)}`;
    }
  }
}

/** The modal where a person pastes YAML for `/config propose`. */
export function proposeModal(o: { channelId?: string; problems?: string[] }): ModalView {
  return {
    type: 'modal',
    callback_id: CONFIG_PROPOSE_MODAL,
    title: plain('Propose configuration'),
    submit: plain('Validate and propose'),
    close: plain('Cancel'),
    private_metadata: JSON.stringify(o.channelId ? { channelId: o.channelId } : {}),
    blocks: [
      section('Paste the whole configuration file (YAML). It is validated first; a valid one becomes a version and a change request (`config.change`) that someone else approves. Secrets stay in the environment and are refused here.'),
      input(YAML_BLOCK, 'Configuration (YAML)', textInput('value', { multiline: true, maxLength: 3000 })),
    ],
  };
}

export function flagsText(flags: FlagsConfig): string {
  const names = Object.keys(flags).sort();
  return names.length ? names.map((n) => describeFlag(n, flags[n]!)).join('\n') : 'No feature flags are configured (the `flags` section of the configuration).';
}

/** Ops channel notices. */
export const opsNotice = {
  integrityRefused: (v: { id: number }, why: string) => `:warning: Configuration version #${v.id} was refused: ${why}. Replicas keep running the version they have. Someone changed the stored row outside Firebreak; check the audit log.`,
  rolledBack: (failed: { id: number }, to: { id: number }, reason: string) => `:rewind: Configuration version #${failed.id} was rolled back automatically to #${to.id}: ${reason}. #${failed.id} is marked failed.`,
  noPrevious: (failed: { id: number }, reason: string) => `:warning: Configuration version #${failed.id} should be rolled back (${reason}) but there is no previous version to go back to.`,
};
