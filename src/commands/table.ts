import { escapeMrkdwn, lineSections, messageText, section } from '../templates/blocks.js';
import type { ChatMessage } from '../chat/surface.js';
import type { CommandInvocation, InteractionContext } from '../chat/interactions.js';

/**
 * A chat command's vocabulary as data (StackStorm-style): each subcommand is declared once
 * with its usage and description; parsing, `help`, the console and the tests read this table.
 */
export interface Subcommand {
  name: string;
  aliases?: string[];
  /** Arguments after the name, e.g. `<P0-P4> <title>`. */
  usage: string;
  description: string;
  run(args: ParsedArgs, inv: CommandInvocation, ctx: InteractionContext): Promise<void>;
}

export interface CommandTable {
  command: string;
  description: string;
  subcommands: Subcommand[];
  /** Runs when the text is empty; defaults to help. */
  whenEmpty?: Subcommand['run'];
  /** Runs when the first word names no subcommand (e.g. `/runbook <name>`); defaults to help. */
  fallback?: Subcommand['run'];
}

export interface ParsedArgs {
  /** Positional words after the subcommand name (quotes group words). */
  words: string[];
  /** Everything after the subcommand name, as typed. */
  rest: string;
  /** `--name value` and bare `--flag` (value 'true'). */
  flags: Record<string, string>;
}

/** Splits on whitespace, keeping "quoted phrases" and Slack's “smart quotes” together. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|“([^”]*)”|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

export function parseArgs(rest: string): ParsedArgs {
  const tokens = tokenize(rest);
  const words: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/i.exec(t);
    if (!m) {
      words.push(t);
      continue;
    }
    if (m[2] !== undefined) flags[m[1]!] = m[2];
    else if (i + 1 < tokens.length && !tokens[i + 1]!.startsWith('--')) flags[m[1]!] = tokens[++i]!;
    else flags[m[1]!] = 'true';
  }
  return { words, rest, flags };
}

export function findSubcommand(table: CommandTable, name: string): Subcommand | undefined {
  const n = name.toLowerCase();
  return table.subcommands.find((s) => s.name === n || s.aliases?.includes(n));
}

/** The help message, generated from the table so it can never drift from what runs. */
export function helpMessage(table: CommandTable, intro?: string): ChatMessage {
  // Usage placeholders like `<title>` are text, not Slack entities: escaped once here.
  const lines = table.subcommands.map((s) => `• \`${table.command} ${s.name}${s.usage ? ' ' + escapeMrkdwn(s.usage) : ''}\` — ${escapeMrkdwn(s.description)}`);
  const head = `${intro ? intro + '\n' : ''}*${table.command}* — ${escapeMrkdwn(table.description)}`;
  const text = `${head}\n${lines.join('\n')}`;
  return { text: messageText(text), blocks: [section(head), ...lineSections(lines, { maxBlocks: 20 })] };
}

export const helpSubcommand = (table: () => CommandTable): Subcommand => ({
  name: 'help',
  usage: '',
  description: 'Show this list.',
  run: async (_args, _inv, ctx) => ctx.reply.ephemeral(helpMessage(table())),
});

/** Finds the subcommand named by the first word and runs it; unknown names get the help. */
export async function dispatchCommand(table: CommandTable, inv: CommandInvocation, ctx: InteractionContext): Promise<void> {
  const text = inv.text.trim();
  if (!text) {
    if (table.whenEmpty) return table.whenEmpty(parseArgs(''), inv, ctx);
    return ctx.reply.ephemeral(helpMessage(table));
  }
  const [first = '', ...restParts] = text.split(/\s+/);
  const sub = findSubcommand(table, first);
  if (!sub && table.fallback) return table.fallback(parseArgs(text), inv, ctx);
  if (!sub) return ctx.reply.ephemeral(helpMessage(table, `I don't know \`${table.command} ${escapeMrkdwn(first)}\`. Here is what I can do:`));
  const rest = text.slice(first.length).trim();
  void restParts;
  return sub.run(parseArgs(rest), inv, ctx);
}
