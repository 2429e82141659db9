/** One verb of a `firebreak` CLI group run in-process, with what it printed collected. */
import type { CliGroup } from '../../src/cli/types.js';

export interface CliLines {
  code: number;
  out: string[];
  err: string[];
}

export async function runCli(group: CliGroup, verb: string, args: string[]): Promise<CliLines> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await group.run(verb, args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** The same, each stream as one text of its lines, for substring and pattern checks. */
export async function runCliText(group: CliGroup, verb: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, out, err } = await runCli(group, verb, args);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
