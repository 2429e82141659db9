import type { Block, ChatMessage } from '../chat/surface.js';
import type { Runbook } from '../runbooks/runbook.js';
import { clipMrkdwn, context, escapeMrkdwn, header, lineSections, link as slackLink, messageBlocks, messageText, section } from './blocks.js';


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

const clip = (text: string, link: string): string => clipMrkdwn(text, 3000, () => slackLink(link, 'continued in the full runbook'));

export const runbookUrl = (publicUrl: string, name: string): string => `${publicUrl.replace(/\/$/, '')}/runbooks/${encodeURIComponent(name)}`;

export function runbookListMessage(runbooks: Runbook[], publicUrl: string): ChatMessage {
  if (runbooks.length === 0) {
    const text = 'No runbooks are installed yet. Put Markdown files in the directory named by `ops.runbooksDir`.';
    return { text, blocks: [section(text)] };
  }
  const lines = runbooks.map((r) => {
    const flag = r.missing.length || r.problems.length ? ' ⚠️ _incomplete_' : '';
    return `• ${slackLink(runbookUrl(publicUrl, r.name), r.name)} — ${escapeMrkdwn(r.title)}${flag}`;
  });
  const head = `*Runbooks* (${runbooks.length}) — open one with \`/runbook &lt;name&gt;\``;
  const blocks: Block[] = [section(head), ...lineSections(lines, { maxBlocks: 45, more: (n) => `_…and ${n} more: see ${slackLink(`${publicUrl.replace(/\/$/, '')}/runbooks`, 'all runbooks')}_` })];
  return { text: messageText(`${runbooks.length} runbooks: ${escapeMrkdwn(runbooks.map((r) => r.name).join(', '))}`), blocks: messageBlocks(blocks) };
}

/** A whole runbook (or one section of it) as Block Kit, with a link to the full text. */
export function runbookMessage(r: Runbook, publicUrl: string, only?: Runbook['sections'][number]['section']): ChatMessage {
  const link = runbookUrl(publicUrl, r.name);
  const blocks: Block[] = [header(r.title)];
  const sections = only ? r.sections.filter((s) => s.section === only) : r.sections;
  for (const s of sections) {
    const n = `${['Overview', 'Severity', 'Prerequisites', 'Detection', 'Investigation', 'Mitigation', 'Verification', 'Communication', 'Escalation', 'Post-Incident'].indexOf(s.section) + 1}.`;
    blocks.push(section(clip(`*${n} ${escapeMrkdwn(s.heading.replace(/^\s*\d+[.)]?\s*/, ''))}*\n${markdownToMrkdwn(s.body)}`, link)));
  }
  const warn = r.missing.length ? ` · ⚠️ missing: ${r.missing.join(', ')}` : '';
  blocks.push(context(`${slackLink(link, 'Full runbook')} · \`${escapeMrkdwn(r.name)}\`${warn}`));
  return { text: messageText(`Runbook: ${escapeMrkdwn(r.title)} ${link}`), blocks: messageBlocks(blocks) };
}
