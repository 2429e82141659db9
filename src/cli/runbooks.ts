import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { describeRunbookProblems, loadRunbooks, RUNBOOK_SECTIONS } from '../runbooks/runbook.js';
import type { CliGroup } from './types.js';

/**
 * `firebreak runbooks check [dir]`: the ten-section standard as a gate for CI. The directory
 * defaults to `ops.runbooksDir` from the configuration, so CI checks what production serves.
 */
export const runbooksCli: CliGroup = {
  name: 'runbooks',
  summary: 'check the Markdown runbooks against the ten-section standard',
  verbs: { check: '[dir] — name each runbook missing one of the ten sections (or otherwise broken); exit 1 if any' },
  async run(verb, args, io) {
    if (verb !== 'check' || args.length > 1) {
      io.err('usage: firebreak runbooks check [dir]');
      return 2;
    }
    const dir = args[0] ?? loadConfig(process.env).ops.runbooksDir;
    const all = await loadRunbooks(dir);
    if (all.length === 0) {
      io.err(`no runbooks (*.md) in ${path.resolve(dir)}`);
      return 1;
    }
    let bad = 0;
    for (const r of all) {
      const problems = describeRunbookProblems(r);
      if (problems.length === 0) {
        io.out(`ok    ${r.name}`);
        continue;
      }
      bad++;
      io.out(`FAIL  ${r.name} (${r.file}): ${problems.join('; ')}`);
    }
    io.out(
      bad === 0
        ? `${all.length} runbooks, all with the ten sections (${RUNBOOK_SECTIONS.join(', ')})`
        : `${bad} of ${all.length} runbooks do not meet the standard`,
    );
    return bad === 0 ? 0 : 1;
  },
};
