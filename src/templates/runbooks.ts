import type { Block, ChatMessage } from '../chat/surface.js';
import type { Runbook } from '../runbooks/runbook.js';
import { context, escapeMrkdwn, section } from './format.js';

/** Slack refuses section text over 3,000 characters. */
const SECTION_LIMIT = 2900;

/** Converts the Markdown runbooks are written in to Slack mrkdwn (the subset runbooks use). */
export function markdownToMrkdwn(md: string): string {
  const out: string[] = [];
  let inFence = false;
  for (const line of md.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      out.push('```');
      continue;
    }
    if (inFence) {
      out.push(escapeMrkdwn(line));
      continue;
    }
    let l = escapeMrkdwn(line);
    l = l.replace(/^#{3,6}\s+(.+)$/, '*$1*');
    l = l.replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<$2|$1>');
    l = l.replace(/\*\*([^*]+)\*\*/g, '*$1*');
    l = l.replace(/^(\s*)[-*]\s+/, '$1• ');
    out.push(l);
  }
  return out.join('\n');
}

function clip(text: string, link: string): string {
  return text.length <= SECTION_LIMIT ? text : `${text.slice(0, SECTION_LIMIT - 60).replace(/\n[^\n]*$/, '')}\n… <${link}|continued in the full runbook>`;
}

export const runbookUrl = (publicUrl: string, name: string): string => `${publicUrl.replace(/\/$/, '')}/runbooks/${encodeURIComponent(name)}`;

export function runbookListMessage(runbooks: Runbook[], publicUrl: string): ChatMessage {
  if (runbooks.length === 0) {
    const text = 'No runbooks are installed yet. Put Markdown files in the directory named by `ops.runbooksDir`.';
    return { text, blocks: [section(text)] };
  }
  const lines = runbooks.map((r) => {
    const flag = r.missing.length || r.problems.length ? ' ⚠️ _incomplete_' : '';
    return `• <${runbookUrl(publicUrl, r.name)}|${escapeMrkdwn(r.name)}> — ${escapeMrkdwn(r.title)}${flag}`;
  });
  const text = `*Runbooks* (${runbooks.length}) — open one with \`/runbook <name>\`\n${lines.join('\n')}`;
  const blocks: Block[] = [];
  // Long lists are split across sections to stay within Slack's per-block limit.
  let chunk = '';
  for (const line of text.split('\n')) {
    if (chunk.length + line.length + 1 > SECTION_LIMIT) {
      blocks.push(section(chunk));
      chunk = '';
    }
    chunk += (chunk ? '\n' : '') + line;
  }
  if (chunk) blocks.push(section(chunk));
  return { text: `${runbooks.length} runbooks: ${runbooks.map((r) => r.name).join(', ')}`, blocks };
}

/** A whole runbook (or one section of it) as Block Kit, with a link to the full text. */
export function runbookMessage(r: Runbook, publicUrl: string, only?: Runbook['sections'][number]['section']): ChatMessage {
  const link = runbookUrl(publicUrl, r.name);
  const blocks: Block[] = [{ type: 'header', text: { type: 'plain_text', text: r.title.slice(0, 150) } }];
  const sections = only ? r.sections.filter((s) => s.section === only) : r.sections;
  for (const s of sections) {
    const n = `${['Overview', 'Severity', 'Prerequisites', 'Detection', 'Investigation', 'Mitigation', 'Verification', 'Communication', 'Escalation', 'Post-Incident'].indexOf(s.section) + 1}.`;
    blocks.push(section(clip(`*${n} ${escapeMrkdwn(s.heading.replace(/^\s*\d+[.)]?\s*/, ''))}*\n${markdownToMrkdwn(s.body)}`, link)));
  }
  const warn = r.missing.length ? ` · ⚠️ missing: ${r.missing.join(', ')}` : '';
  blocks.push(context(`<${link}|Full runbook> · \`${r.name}\`${warn}`));
  return { text: `Runbook: ${r.title} ${link}`, blocks: blocks.slice(0, 50) };
}
