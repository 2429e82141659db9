/**
 * The one place Firebreak builds Block Kit. Every builder stays inside Slack's documented
 * limits (./slack-limits.ts) by construction: text is shortened on grapheme boundaries, never
 * inside a Slack entity (`&amp;`, `<@U1>`, `<https://…|label>`), and says what it left out;
 * URLs Slack would refuse are dropped, never sent.
 *
 * Text rules, so nothing is escaped twice: the domain stores plain text (Slack's own escaping
 * is undone once at the edge, see `decodeSlackText`), and text is escaped exactly once here,
 * on the way out: `escapeMrkdwn` for anything a sender controls (alerts, PagerDuty, SNS), which
 * neutralises every `<…>` so it can never become a mention or a link; `userMrkdwn` for what a
 * person typed in Slack, which keeps the mentions and links Slack itself put there.
 */
import type {
  ActionsBlock, Button, ContextBlock, DividerBlock, HeaderBlock, InputBlock, KnownBlock, MrkdwnElement, PlainTextElement,
  PlainTextInput, PlainTextOption, SectionBlock, StaticSelect,
} from '@slack/types';
import { SLACK_LIMITS as L } from './slack-limits.js';

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Escapes the three characters Slack mrkdwn treats as control characters. Apply once, to plain text. */
export const escapeMrkdwn = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Undoes Slack's escaping of text it sends us (slash command text, message text): Slack
 * turns a typed `&`, `<`, `>` into `&amp;`, `&lt;`, `&gt;`. Decode once, store plain text.
 * Modal `plain_text_input` values arrive unescaped and must not go through this.
 */
export const decodeSlackText = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Entities Slack itself puts in text people type: user, channel and group mentions, special mentions, links. */
const SLACK_ENTITY = /<(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+|!subteam\^[A-Z0-9]+|!(?:here|channel|everyone)|https?:\/\/[^\s<>|]+|mailto:[^\s<>|]+)(?:\|[^<>]*)?>/g;

/**
 * What a person typed in Slack (decoded plain text), as mrkdwn: Slack's own mentions and
 * links stay live (the person could post them in the channel anyway), everything else is
 * escaped once.
 */
export function userMrkdwn(s: string): string {
  let out = '';
  let last = 0;
  for (const m of s.matchAll(SLACK_ENTITY)) {
    out += escapeMrkdwn(s.slice(last, m.index));
    const bar = m[0].indexOf('|');
    const target = (bar < 0 ? m[0].slice(0, -1) : m[0].slice(0, bar)).replace(/&/g, '&amp;');
    out += bar < 0 ? `${target}>` : `${target}|${escapeMrkdwn(m[0].slice(bar + 1, -1))}>`;
    last = m.index + m[0].length;
  }
  return out + escapeMrkdwn(s.slice(last));
}

/**
 * A URL Slack can take as a link or button target, or undefined: http(s) only, nothing that
 * could close or split a `<url|label>` link (`<`, `>`, `|`), no whitespace, within the URL limit.
 */
export function safeUrl(u: string | null | undefined): string | undefined {
  if (!u || u.length > L.url || !/^https?:\/\/[^\s<>|]+$/i.test(u)) return undefined;
  try {
    const parsed = new URL(u);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}

/** `<url|label>` when the URL is safe, the escaped label alone otherwise. Label is plain text. */
export function link(url: string | null | undefined, label: string): string {
  const ok = safeUrl(url);
  // Slack wants `&` escaped inside a link too (`<https://x?a=1&amp;b=2|label>`).
  return ok ? `<${ok.replace(/&/g, '&amp;')}|${escapeMrkdwn(label)}>` : escapeMrkdwn(label);
}

/** The longest prefix of `s` within `max` UTF-16 units that ends on a grapheme boundary. */
function prefixWithin(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = 0;
  for (const { index, segment } of graphemes.segment(s)) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return s.slice(0, end);
}

const MRKDWN_ATOM = /<[^<>\n]*>|&(?:amp|lt|gt);/g;

/** Like prefixWithin, and never ends inside a Slack entity or an escape. */
function mrkdwnPrefixWithin(s: string, max: number): string {
  let cut = prefixWithin(s, max);
  for (const m of s.matchAll(MRKDWN_ATOM)) {
    if (m.index >= cut.length) break;
    if (m.index + m[0].length > cut.length) {
      cut = s.slice(0, m.index);
      break;
    }
  }
  return cut;
}

/** Plain text within `max`, cut on a grapheme boundary with an ellipsis. */
export function clipPlain(s: string, max: number): string {
  return s.length <= max ? s : prefixWithin(s, max - 1) + '…';
}

/** What a shortened text says about the rest; `hidden` is how many characters were left out. */
export type MoreNote = (hidden: number) => string;
export const charactersMore: MoreNote = (n) => `_…and ${n} more character${n === 1 ? '' : 's'} not shown_`;

/**
 * Mrkdwn within `max`: cut on a line end when one is near, else on a grapheme boundary,
 * never inside an entity; an open code fence is closed; `note` says what is missing.
 */
export function clipMrkdwn(s: string, max: number, note: MoreNote = charactersMore): string {
  if (s.length <= max) return s;
  const room = max - note(s.length).length - 5;
  let head = mrkdwnPrefixWithin(s, room);
  const nl = head.lastIndexOf('\n');
  if (nl > room * 0.8) head = head.slice(0, nl);
  const fence = (head.match(/```/g)?.length ?? 0) % 2 === 1 ? '```' : '';
  return `${head}${fence}${fence || head.endsWith('\n') ? '' : '…'}\n${note(s.length - head.length)}`;
}

export const plain = (text: string, max: number = L.textObject): PlainTextElement => ({ type: 'plain_text', text: clipPlain(text || ' ', max) });
export const mrkdwn = (text: string, max: number = L.textObject, note?: MoreNote): MrkdwnElement => ({ type: 'mrkdwn', text: clipMrkdwn(text || ' ', max, note) });

export const section = (text: string, note?: MoreNote): SectionBlock => ({ type: 'section', text: mrkdwn(text, L.sectionText, note) });

/** A section of up to 10 two-column fields. */
export const fieldsSection = (fields: string[]): SectionBlock => ({ type: 'section', fields: fields.slice(0, L.sectionFields).map((f) => mrkdwn(f, L.sectionFieldText)) });

export const context = (...texts: string[]): ContextBlock => ({ type: 'context', elements: texts.slice(0, L.contextElements).map((t) => mrkdwn(t)) });

export const header = (text: string): HeaderBlock => ({ type: 'header', text: plain(text, L.headerText) });

export const divider = (): DividerBlock => ({ type: 'divider' });

function checkId(kind: string, id: string): string {
  // Ids are ours, never user text: one over the limit is a programming error, found by tests.
  if (!id || id.length > L.id) throw new Error(`${kind} "${id.slice(0, 40)}…" is ${id.length} characters; Slack allows 1-${L.id}`);
  return id;
}

export function button(text: string, actionId: string, value: string, style?: 'primary' | 'danger', url?: string): Button {
  if (value.length > L.buttonValue) throw new Error(`button ${actionId}: value is ${value.length} characters; Slack allows ${L.buttonValue}`);
  const target = safeUrl(url);
  return { type: 'button', text: plain(text, L.buttonText), action_id: checkId('action_id', actionId), value, ...(style ? { style } : {}), ...(target ? { url: target } : {}) };
}

export const actions = (blockId: string, elements: ActionsBlock['elements']): ActionsBlock => ({
  type: 'actions', block_id: checkId('block_id', blockId), elements: elements.slice(0, L.actionsElements),
});

export const option = (text: string, value: string): PlainTextOption => {
  if (value.length > L.optionValue) throw new Error(`option value "${value}" is over ${L.optionValue} characters`);
  return { text: plain(text, L.optionText), value };
};

export const staticSelect = (actionId: string, options: PlainTextOption[], initial?: PlainTextOption): StaticSelect => ({
  type: 'static_select', action_id: checkId('action_id', actionId), options: options.slice(0, L.selectOptions), ...(initial ? { initial_option: initial } : {}),
});

export interface TextInputOptions {
  multiline?: boolean;
  maxLength?: number;
  initialValue?: string;
  placeholder?: string;
}

export function textInput(actionId: string, o: TextInputOptions = {}): PlainTextInput {
  const max = Math.min(o.maxLength ?? L.inputMaxLength, L.inputMaxLength);
  return {
    type: 'plain_text_input', action_id: checkId('action_id', actionId), max_length: max,
    ...(o.multiline ? { multiline: true } : {}),
    ...(o.initialValue ? { initial_value: clipPlain(o.initialValue, max) } : {}),
    ...(o.placeholder ? { placeholder: plain(o.placeholder, L.placeholder) } : {}),
  };
}

export const input = (blockId: string, label: string, element: InputBlock['element'], opts: { optional?: boolean; hint?: string } = {}): InputBlock => ({
  type: 'input', block_id: checkId('block_id', blockId), label: plain(label, L.inputLabel), element,
  ...(opts.optional ? { optional: true } : {}), ...(opts.hint ? { hint: plain(opts.hint, L.inputHint) } : {}),
});

/**
 * Lines as few sections as they fit in (each within the section limit, a line too long for
 * one section shortened on its own), at most `maxBlocks` of them; lines that do not fit are
 * counted in an explicit `more` line rather than dropped silently.
 */
export function lineSections(lines: string[], opts: { maxBlocks?: number; more?: (n: number) => string } = {}): SectionBlock[] {
  const maxBlocks = Math.max(1, opts.maxBlocks ?? 10);
  const more = opts.more ?? ((n: number) => `_…and ${n} more_`);
  const limit = L.sectionText;
  const chunks: string[][] = [[]];
  const size = (c: string[]) => c.reduce((a, l) => a + l.length + 1, 0);
  let i = 0;
  for (; i < lines.length; i++) {
    const line = clipMrkdwn(lines[i]!, limit - 200);
    let cur = chunks[chunks.length - 1]!;
    if (cur.length && size(cur) + line.length > limit - 100) {
      if (chunks.length === maxBlocks) break;
      cur = [];
      chunks.push(cur);
    }
    cur.push(line);
  }
  if (i < lines.length) chunks[chunks.length - 1]!.push(more(lines.length - i));
  return chunks.filter((c) => c.length).map((c) => section(c.join('\n')));
}

/** The message blocks within Slack's per-message limit; what does not fit is named, not lost. */
export function messageBlocks(blocks: KnownBlock[], more: (n: number) => string = (n) => `_…and ${n} more blocks not shown_`): KnownBlock[] {
  uniqueIds(blocks);
  if (blocks.length <= L.messageBlocks) return blocks;
  const kept = blocks.slice(0, L.messageBlocks - 1);
  return [...kept, context(more(blocks.length - kept.length))];
}

/**
 * Slack refuses a payload whose block_ids repeat, or whose action_ids repeat within one block;
 * ours are fixed strings, so a repeat is a bug.
 */
export function uniqueIds(blocks: KnownBlock[]): void {
  const seen = new Set<string>();
  const see = (kind: string, id: string | undefined) => {
    if (id === undefined) return;
    if (seen.has(`${kind}:${id}`)) throw new Error(`duplicate ${kind} "${id}" in one payload`);
    seen.add(`${kind}:${id}`);
  };
  for (const b of blocks) {
    see('block_id', b.block_id);
    for (const k of [...seen]) if (k.startsWith('action_id:')) seen.delete(k);
    const els = b.type === 'actions' ? b.elements : b.type === 'section' && b.accessory ? [b.accessory] : b.type === 'input' ? [b.element] : [];
    for (const e of els) see('action_id', (e as { action_id?: string }).action_id);
  }
}

/** Fallback/notification text within chat.postMessage's limit. */
export const messageText = (text: string): string => clipPlain(text, L.messageText);

/**
 * Long mrkdwn over as many sections as it needs (up to `maxBlocks`), split at line ends
 * where possible, else on a grapheme boundary outside any entity; past `maxBlocks` the last
 * section says how much is left out (`note`).
 */
export function textSections(text: string, opts: { maxBlocks?: number; note?: MoreNote } = {}): SectionBlock[] {
  const maxBlocks = Math.max(1, opts.maxBlocks ?? 5);
  const out: SectionBlock[] = [];
  let rest = text;
  const room = L.sectionText - 10;
  while (rest.length > room && out.length < maxBlocks - 1) {
    let head = mrkdwnPrefixWithin(rest, room) || prefixWithin(rest, room);
    const nl = head.lastIndexOf('\n');
    if (nl > room / 2) head = head.slice(0, nl + 1);
    // Keep a code fence balanced in each section: close it here, reopen it in the next.
    const open = (head.match(/```/g)?.length ?? 0) % 2 === 1;
    out.push(section(open ? `${head}\`\`\`` : head));
    rest = (open ? '```' : '') + rest.slice(head.length);
  }
  out.push(section(rest, opts.note));
  return out;
}
