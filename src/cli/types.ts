/**
 * One verb group of the `firebreak` CLI (`firebreak <group> <verb> ...`). Each area owns its
 * group in src/cli/<area>.ts and runs the same services the chat commands run.
 */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export interface CliGroup {
  name: string;
  /** One line for `firebreak help`. */
  summary: string;
  /** Verbs and their one-line descriptions, for help. */
  verbs: Record<string, string>;
  /** Returns the process exit code. */
  run(verb: string | undefined, args: string[], io: CliIo): Promise<number>;
}
