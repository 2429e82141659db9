import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ChatMessage } from '../chat/surface.js';
import type { Incident } from '../incidents/model.js';
import { SEVERITY_MEANING } from '../incidents/model.js';
import { mention, utc } from './format.js';
import { context, escapeMrkdwn, section, textSections } from './blocks.js';
import { publishButton } from './statuspage.js';

/**
 * The communication templates of the ops practice: internal status update, customer /
 * status-page update, executive summary, resolved notice. Each is a draft for a human to
 * send; Firebreak fills what it knows.
 *
 * Templates are plain text with `{{field}}` placeholders and `{{field|fallback}}` for
 * fields that may be empty. Teams override any of them with `<kind>.md` (or `.txt`) in
 * `incidents.templatesDir`; `validateCommsTemplates` checks those files at config check so
 * a typo is found before an incident, not during one.
 */
export type CommsKind = 'internal' | 'customer' | 'executive' | 'resolved';
export const COMMS_KINDS: CommsKind[] = ['internal', 'customer', 'executive', 'resolved'];

const TITLES: Record<CommsKind, string> = {
  internal: 'Internal status update',
  customer: 'Customer / status page update',
  executive: 'Executive summary',
  resolved: 'Resolved notice',
};

/** Every placeholder a template may use, with what it is filled with. */
export const COMMS_FIELDS: Record<string, string> = {
  id: 'incident number, e.g. 12',
  ref: 'INC-12',
  title: 'incident title',
  severity: 'P0-P4',
  severityMeaning: 'what the severity means',
  status: 'investigating, identified, monitoring or resolved',
  summary: 'summary given at declare (empty if none)',
  impact: 'summary, or the title when there is no summary',
  service: 'affected service (empty if none)',
  commander: 'incident commander mention',
  commsLead: 'comms lead mention',
  techLead: 'tech lead mention',
  declaredAt: 'declare time, UTC',
  resolvedAt: 'resolve time, UTC',
  update: 'the latest update text',
  nextUpdate: 'when the next update is due',
  channel: 'the incident channel',
};

const BUILTIN: Record<CommsKind, string> = {
  internal:
    '[{{severity}}] {{ref}} {{title}} — status: {{status}}\n' +
    'Impact: {{impact}}\n' +
    'Current: {{update|We are investigating.}}\n' +
    'Incident commander: {{commander}}\n' +
    'Next update: {{nextUpdate|when anything changes}}.',
  customer:
    'We are aware of an issue affecting {{service|our service}}. {{update|We are investigating.}} ' +
    'We will post another update as soon as we know more.',
  executive:
    '{{severity}} ({{severityMeaning}}) since {{declaredAt}}: {{title}}.\n' +
    'Customer impact: {{impact}}\n' +
    'Status: {{status}}. Owner: {{commander}}.\n' +
    'Decisions needed: none yet.',
  resolved:
    'Resolved: {{title}} ({{ref}}). The issue affecting {{service|our service}} was resolved at {{resolvedAt}}. ' +
    '{{update|}} A post-mortem will follow.',
};

/** The section block that shows a draft holds 3000 characters; leave room for the fence. */
export const MAX_TEMPLATE_CHARS = 2800;
const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*(?:\|([^{}]*))?\}\}/g;

export type CommsTemplates = Record<CommsKind, string>;

/** What is wrong with one template's text; empty when it is usable. */
export function templateProblems(source: string): string[] {
  const problems: string[] = [];
  if (!source.trim()) problems.push('it is empty');
  if (source.length > MAX_TEMPLATE_CHARS) problems.push(`it is ${source.length} characters; the limit is ${MAX_TEMPLATE_CHARS}`);
  const lines = source.split('\n');
  lines.forEach((line, n) => {
    for (const m of line.matchAll(PLACEHOLDER)) {
      if (!(m[1]! in COMMS_FIELDS)) {
        problems.push(`line ${n + 1}: unknown placeholder {{${m[1]}}} (known: ${Object.keys(COMMS_FIELDS).join(', ')})`);
      }
    }
    const rest = line.replace(PLACEHOLDER, '');
    if (rest.includes('{{') || rest.includes('}}')) problems.push(`line ${n + 1}: unbalanced or malformed {{ }} in "${line.trim().slice(0, 60)}"`);
  });
  return problems;
}

interface LoadedTemplates {
  templates: CommsTemplates;
  /** One line per problem, naming the file. */
  problems: string[];
}

/** Reads the team's overrides; broken or missing files leave the built-in template in place. */
export function loadCommsTemplates(dir: string | undefined): LoadedTemplates {
  const templates = { ...BUILTIN };
  const problems: string[] = [];
  if (!dir) return { templates, problems };
  const root = path.resolve(dir);
  let files: string[];
  try {
    if (!statSync(root).isDirectory()) return { templates, problems: [`incidents.templatesDir: ${root} is not a directory`] };
    files = readdirSync(root);
  } catch (e) {
    return { templates, problems: [`incidents.templatesDir: cannot read ${root} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`] };
  }
  const expected = COMMS_KINDS.map((k) => `${k}.md`).join(', ');
  for (const file of files.sort()) {
    const m = /^([a-z]+)\.(md|txt)$/i.exec(file);
    if (!m || /^readme\./i.test(file)) continue;
    const kind = m[1]!.toLowerCase() as CommsKind;
    if (!COMMS_KINDS.includes(kind)) {
      problems.push(`${path.join(root, file)}: not a template name (expected ${expected})`);
      continue;
    }
    let source: string;
    try {
      source = readFileSync(path.join(root, file), 'utf8');
    } catch (e) {
      problems.push(`${path.join(root, file)}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    const bad = templateProblems(source);
    if (bad.length) problems.push(...bad.map((p) => `${path.join(root, file)}: ${p}`));
    else templates[kind] = source.replace(/\s+$/, '');
  }
  return { templates, problems };
}

/**
 * For `firebreak config check`: every problem with the override files, one line each,
 * naming the file; empty when they are all usable (or there is no directory configured).
 */
export function validateCommsTemplates(dir: string | undefined): string[] {
  return loadCommsTemplates(dir).problems;
}

export interface CommsExtras {
  update?: string;
  nextUpdate?: string;
}

/** Text that ends a sentence, so the template's next sentence does not run on ("rolled back A post-mortem"). */
const sentence = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t && !/[.!?…:;]["')\]]?$/.test(t) ? `${t}.` : t;
};

export function commsFields(i: Incident, extras: CommsExtras = {}): Record<string, string> {
  const esc = (s: string | null | undefined) => (s ? escapeMrkdwn(s) : '');
  return {
    id: String(i.id),
    ref: `INC-${i.id}`,
    title: esc(i.title),
    severity: i.severity,
    severityMeaning: SEVERITY_MEANING[i.severity],
    status: i.status,
    summary: esc(i.summary),
    impact: esc(i.summary ?? i.title),
    service: esc(i.service),
    commander: mention(i.commander),
    commsLead: mention(i.commsLead),
    techLead: mention(i.techLead),
    declaredAt: utc(i.declaredAt),
    resolvedAt: i.resolvedAt ? utc(i.resolvedAt) : '',
    update: esc(sentence(extras.update)),
    nextUpdate: extras.nextUpdate ?? '',
    channel: i.channelName ? `#${i.channelName}` : '',
  };
}

export function renderTemplate(source: string, fields: Record<string, string>): string {
  return source.replace(PLACEHOLDER, (_m, name: string, fallback: string | undefined) => fields[name] || (fallback ?? '').trim()).trim();
}

export function renderComms(kind: CommsKind, i: Incident, extras: CommsExtras = {}, templates: CommsTemplates = BUILTIN): string {
  return renderTemplate(templates[kind], commsFields(i, extras));
}

/** `statusPage`: the customer draft gets a button that opens the status page form (when the page is enabled). */
export function commsMessage(kind: CommsKind, i: Incident, extras: CommsExtras = {}, templates: CommsTemplates = BUILTIN, opts: { statusPage?: boolean } = {}): ChatMessage {
  const body = renderComms(kind, i, extras, templates);
  return {
    text: `${TITLES[kind]} draft for INC-${i.id}`,
    // A draft with a long summary or update spans several sections, each a closed code block.
    blocks: [
      section(`*${TITLES[kind]}* — draft`), ...textSections('```' + body + '```', { maxBlocks: 6 }), context('Copy, adjust and send. Drafts are filled from the incident record.'),
      ...(kind === 'customer' && opts.statusPage ? [publishButton(i.id)] : []),
    ],
  };
}
