import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The ten sections every runbook has, in this order (operations handbook standard). */
export const RUNBOOK_SECTIONS = [
  'Overview', 'Severity', 'Prerequisites', 'Detection', 'Investigation',
  'Mitigation', 'Verification', 'Communication', 'Escalation', 'Post-Incident',
] as const;
export type RunbookSection = (typeof RUNBOOK_SECTIONS)[number];

export interface Runbook {
  /** File name without `.md`: what `/runbook <name>` and runbook URLs use. */
  name: string;
  file: string;
  /** The first `# ` heading, or the name. */
  title: string;
  /** Standard sections found, in file order, with their Markdown body. */
  sections: { section: RunbookSection; heading: string; body: string }[];
  /** Standard sections with no heading in the file. */
  missing: RunbookSection[];
  /** Everything else wrong: empty sections, sections out of order, no severity level. */
  problems: string[];
}

/** Runbook names are file names: a conservative alphabet keeps `/runbook ../x` out of the filesystem. */
export const RUNBOOK_NAME = /^[a-z0-9][a-z0-9_-]{0,80}$/;

/** "## 10. Post-Incident Review" and "## Post incident" both mean Post-Incident. */
function sectionOf(heading: string): RunbookSection | undefined {
  const key = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');
  const text = key(heading.replace(/^\s*(\d+[.)]?|step\s+\d+:?)\s*/i, '').replace(/\(.*$/, ''));
  return RUNBOOK_SECTIONS.find((s) => text === key(s) || text.startsWith(key(s)));
}

/** Parses a runbook's Markdown and checks it against the ten-section standard. */
export function parseRunbook(markdown: string, file: string): Runbook {
  const name = path.basename(file).replace(/\.md$/i, '');
  const lines = markdown.split(/\r?\n/);
  let title = name;
  const sections: Runbook['sections'] = [];
  let current: { section: RunbookSection; heading: string; lines: string[] } | undefined;
  let inFence = false;
  for (const line of lines) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^(#{1,2})\s+(.+?)\s*#*\s*$/.exec(line);
    if (h && h[1] === '#' && title === name && sections.length === 0 && !current) {
      title = h[2]!;
      continue;
    }
    if (h && h[1] === '##') {
      if (current) sections.push({ section: current.section, heading: current.heading, body: current.lines.join('\n').trim() });
      const section = sectionOf(h[2]!);
      current = section ? { section, heading: h[2]!, lines: [] } : undefined;
      continue;
    }
    current?.lines.push(line);
  }
  if (current) sections.push({ section: current.section, heading: current.heading, body: current.lines.join('\n').trim() });

  const found = new Set(sections.map((s) => s.section));
  const missing = RUNBOOK_SECTIONS.filter((s) => !found.has(s));
  const problems: string[] = [];
  for (const s of sections) if (!s.body) problems.push(`section ${s.section} is empty`);
  const order = sections.map((s) => RUNBOOK_SECTIONS.indexOf(s.section));
  if (order.some((v, i) => i > 0 && v < order[i - 1]!)) problems.push(`sections are out of order; expected ${RUNBOOK_SECTIONS.join(', ')}`);
  const severity = sections.find((s) => s.section === 'Severity');
  if (severity?.body && !/\bP[0-4]\b/.test(severity.body)) problems.push('section Severity names no level P0-P4');
  if (!RUNBOOK_NAME.test(name)) problems.push(`file name "${name}" must be lowercase letters, digits, - or _ (it is the /runbook name)`);
  return { name, file, title, sections, missing, problems };
}

/** Every `*.md` in the directory, sorted by name. A missing directory is an error naming it. */
export async function loadRunbooks(dir: string): Promise<Runbook[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.md') && f.toLowerCase() !== 'readme.md').sort();
  } catch (e) {
    throw new Error(`cannot read the runbooks directory ${path.resolve(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return Promise.all(files.map(async (f) => parseRunbook(await readFile(path.join(dir, f), 'utf8'), path.join(dir, f))));
}

/** One runbook by name, or undefined. Names outside RUNBOOK_NAME never touch the filesystem. */
export async function loadRunbook(dir: string, name: string): Promise<{ runbook: Runbook; markdown: string } | undefined> {
  const n = name.toLowerCase().replace(/\.md$/, '');
  if (!RUNBOOK_NAME.test(n)) return undefined;
  const file = path.join(dir, `${n}.md`);
  try {
    const markdown = await readFile(file, 'utf8');
    return { runbook: parseRunbook(markdown, file), markdown };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The one-line verdict `firebreak runbooks check` prints per file. */
export function describeRunbookProblems(r: Runbook): string[] {
  const out: string[] = [];
  if (r.missing.length) out.push(`missing sections: ${r.missing.join(', ')}`);
  out.push(...r.problems);
  return out;
}
