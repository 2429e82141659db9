/**
 * Checks a finished Slack payload (message or modal view) against Slack's documented limits
 * and structural rules, returning one line per violation (empty when Slack would accept it).
 * It reads payloads as untyped JSON, the way Slack does, so it also catches what the types
 * cannot: lengths, counts, repeated ids, cut surrogate pairs, text escaped twice.
 */
import { SLACK_LIMITS as L } from './slack-limits.js';

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => !!x && typeof x === 'object' && !Array.isArray(x);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const DOUBLE_ESCAPE = /&amp;(?:amp|lt|gt);/;

interface Ctx {
  problems: string[];
  ids: Set<string>;
}

function textProblems(where: string, s: string, c: Ctx, asMrkdwn: boolean): void {
  if (LONE_SURROGATE.test(s)) c.problems.push(`${where}: text holds half of a surrogate pair (a character cut in two)`);
  if (DOUBLE_ESCAPE.test(s)) c.problems.push(`${where}: text is escaped twice (${DOUBLE_ESCAPE.exec(s)![0]})`);
  if (!asMrkdwn) return;
  // In mrkdwn a `<` only opens an entity and a `>` only closes one; a stray one is unescaped text or a cut entity.
  // A `>` opening a line is a block quote, which Slack wants unescaped.
  const rest = s.replace(/<[^<>\n]+>/g, '').replace(/^>/gm, '');
  if (/[<>]/.test(rest)) c.problems.push(`${where}: unescaped < or > outside a Slack entity (${JSON.stringify(rest.slice(Math.max(0, rest.search(/[<>]/) - 20)).slice(0, 50))})`);
  for (const m of s.matchAll(/<([^<>\n]+)>/g)) {
    const target = m[1]!.split('|')[0]!;
    if (/^(?:[@#!]|https?:\/\/|mailto:)/.test(target) === false) c.problems.push(`${where}: <${target.slice(0, 40)}> is not a Slack entity`);
    if (/^https?:/.test(target) && target.length > L.url) c.problems.push(`${where}: link URL over ${L.url} characters`);
  }
}

function textObject(where: string, t: unknown, c: Ctx, o: { max: number; plainOnly?: boolean }): void {
  if (!isObj(t)) return void c.problems.push(`${where}: missing text object`);
  if (t.type !== 'plain_text' && t.type !== 'mrkdwn') return void c.problems.push(`${where}: text type ${String(t.type)}`);
  if (o.plainOnly && t.type !== 'plain_text') c.problems.push(`${where}: must be plain_text`);
  if (typeof t.text !== 'string' || t.text.length < 1) return void c.problems.push(`${where}: empty text`);
  if (t.text.length > o.max) c.problems.push(`${where}: text is ${t.text.length} characters; the limit is ${o.max}`);
  textProblems(where, t.text, c, t.type === 'mrkdwn');
}

function id(where: string, kind: 'block_id' | 'action_id', v: unknown, c: Ctx): void {
  if (v === undefined) return;
  if (typeof v !== 'string' || v.length < 1 || v.length > L.id) return void c.problems.push(`${where}: ${kind} must be 1-${L.id} characters`);
  if (c.ids.has(`${kind}:${v}`)) c.problems.push(`${where}: ${kind} "${v}" is not unique`);
  c.ids.add(`${kind}:${v}`);
}

function url(where: string, u: unknown, c: Ctx): void {
  if (u === undefined) return;
  if (typeof u !== 'string' || u.length > L.url) return void c.problems.push(`${where}: url is ${String(u).length} characters; the limit is ${L.url}`);
  if (!/^https?:\/\/[^\s<>|]+$/i.test(u)) c.problems.push(`${where}: url ${JSON.stringify(u.slice(0, 60))} is not a plain http(s) URL`);
}

function optionObj(where: string, o: unknown, c: Ctx): void {
  if (!isObj(o)) return void c.problems.push(`${where}: not an option`);
  textObject(`${where}.text`, o.text, c, { max: L.optionText, plainOnly: true });
  if (typeof o.value !== 'string' || o.value.length > L.optionValue) c.problems.push(`${where}: option value must be at most ${L.optionValue} characters`);
}

function element(where: string, e: unknown, c: Ctx): void {
  if (!isObj(e)) return void c.problems.push(`${where}: not an element`);
  id(where, 'action_id', e.action_id, c);
  switch (e.type) {
    case 'button':
      textObject(`${where}.text`, e.text, c, { max: L.buttonText, plainOnly: true });
      if (e.value !== undefined && (typeof e.value !== 'string' || e.value.length > L.buttonValue)) c.problems.push(`${where}: button value over ${L.buttonValue} characters`);
      if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger') c.problems.push(`${where}: style ${String(e.style)}`);
      url(where, e.url, c);
      break;
    case 'static_select': {
      const opts = Array.isArray(e.options) ? e.options : [];
      if (opts.length < 1 || opts.length > L.selectOptions) c.problems.push(`${where}: ${opts.length} options; 1-${L.selectOptions} allowed`);
      opts.forEach((o, i) => optionObj(`${where}.options[${i}]`, o, c));
      if (e.initial_option !== undefined) optionObj(`${where}.initial_option`, e.initial_option, c);
      break;
    }
    case 'plain_text_input': {
      const max = e.max_length === undefined ? L.inputMaxLength : Number(e.max_length);
      if (!(max >= 1 && max <= L.inputMaxLength)) c.problems.push(`${where}: max_length ${String(e.max_length)}; at most ${L.inputMaxLength}`);
      if (typeof e.initial_value === 'string') {
        if (e.initial_value.length > max) c.problems.push(`${where}: initial_value is ${e.initial_value.length} characters, over max_length ${max}`);
        textProblems(`${where}.initial_value`, e.initial_value, c, false);
      }
      if (e.placeholder !== undefined) textObject(`${where}.placeholder`, e.placeholder, c, { max: L.placeholder, plainOnly: true });
      break;
    }
    case 'image':
      url(where, e.image_url, c);
      break;
    case 'users_select': case 'conversations_select': case 'channels_select': case 'datepicker': case 'timepicker': case 'checkboxes':
    case 'radio_buttons': case 'overflow': case 'multi_users_select': case 'multi_static_select': case 'multi_conversations_select':
      break;
    default:
      c.problems.push(`${where}: unknown element type ${String(e.type)}`);
  }
}

function block(where: string, b: unknown, c: Ctx, surface: 'message' | 'modal'): void {
  if (!isObj(b)) return void c.problems.push(`${where}: not a block`);
  id(where, 'block_id', b.block_id, c);
  // action_id must be unique "among all other action_ids in the containing block" (blocks/ reference).
  for (const k of [...c.ids]) if (k.startsWith('action_id:')) c.ids.delete(k);
  switch (b.type) {
    case 'section': {
      const fields = Array.isArray(b.fields) ? b.fields : undefined;
      if (b.text === undefined && !fields?.length) c.problems.push(`${where}: a section needs text or fields`);
      if (b.text !== undefined) textObject(`${where}.text`, b.text, c, { max: L.sectionText });
      if (fields) {
        if (fields.length > L.sectionFields) c.problems.push(`${where}: ${fields.length} fields; the limit is ${L.sectionFields}`);
        fields.forEach((f, i) => textObject(`${where}.fields[${i}]`, f, c, { max: L.sectionFieldText }));
      }
      if (b.accessory !== undefined) element(`${where}.accessory`, b.accessory, c);
      break;
    }
    case 'context': {
      const els = Array.isArray(b.elements) ? b.elements : [];
      if (els.length < 1 || els.length > L.contextElements) c.problems.push(`${where}: ${els.length} context elements; 1-${L.contextElements} allowed`);
      els.forEach((e, i) => (isObj(e) && e.type === 'image' ? element(`${where}.elements[${i}]`, e, c) : textObject(`${where}.elements[${i}]`, e, c, { max: L.textObject })));
      break;
    }
    case 'header':
      textObject(`${where}.text`, b.text, c, { max: L.headerText, plainOnly: true });
      break;
    case 'actions': {
      const els = Array.isArray(b.elements) ? b.elements : [];
      if (els.length < 1 || els.length > L.actionsElements) c.problems.push(`${where}: ${els.length} elements; 1-${L.actionsElements} allowed`);
      els.forEach((e, i) => element(`${where}.elements[${i}]`, e, c));
      break;
    }
    case 'input':
      if (surface !== 'modal') c.problems.push(`${where}: input blocks belong in modals`);
      textObject(`${where}.label`, b.label, c, { max: L.inputLabel, plainOnly: true });
      if (b.hint !== undefined) textObject(`${where}.hint`, b.hint, c, { max: L.inputHint, plainOnly: true });
      element(`${where}.element`, b.element, c);
      break;
    case 'divider':
      break;
    case 'image':
      url(where, b.image_url, c);
      break;
    default:
      c.problems.push(`${where}: unknown block type ${String(b.type)}`);
  }
}

function blocks(list: unknown, c: Ctx, surface: 'message' | 'modal'): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) return void c.problems.push('blocks is not an array');
  const max = surface === 'modal' ? L.viewBlocks : L.messageBlocks;
  if (list.length > max) c.problems.push(`${list.length} blocks; a ${surface} allows ${max}`);
  list.forEach((b, i) => block(`blocks[${i}]`, b, c, surface));
}

/** A chat.postMessage / chat.update / chat.postEphemeral / response_url body. */
export function messageProblems(m: { text?: unknown; blocks?: unknown }): string[] {
  const c: Ctx = { problems: [], ids: new Set() };
  const text = typeof m.text === 'string' ? m.text : '';
  if (!text && !(Array.isArray(m.blocks) && m.blocks.length)) c.problems.push('no text and no blocks');
  if (text.length > L.messageText) c.problems.push(`text is ${text.length} characters; the limit is ${L.messageText}`);
  if (text) textProblems('text', text, c, true);
  blocks(m.blocks, c, 'message');
  return c.problems;
}

/** A views.open / views.update / views.push view. */
export function viewProblems(v: unknown): string[] {
  const c: Ctx = { problems: [], ids: new Set() };
  if (!isObj(v)) return ['view is not an object'];
  if (v.type !== 'modal') c.problems.push(`view type ${String(v.type)}`);
  textObject('title', v.title, c, { max: L.viewTitle, plainOnly: true });
  if (v.submit !== undefined) textObject('submit', v.submit, c, { max: L.viewTitle, plainOnly: true });
  if (v.close !== undefined) textObject('close', v.close, c, { max: L.viewTitle, plainOnly: true });
  if (typeof v.callback_id === 'string' && v.callback_id.length > L.callbackId) c.problems.push(`callback_id over ${L.callbackId} characters`);
  if (typeof v.private_metadata === 'string' && v.private_metadata.length > L.privateMetadata) c.problems.push(`private_metadata over ${L.privateMetadata} characters`);
  blocks(v.blocks, c, 'modal');
  if (Array.isArray(v.blocks) && v.blocks.some((b) => isObj(b) && b.type === 'input') && v.submit === undefined) c.problems.push('a modal with inputs needs submit');
  return c.problems;
}
