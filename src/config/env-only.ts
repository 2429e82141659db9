import { isDeepStrictEqual } from 'node:util';
import type { Config } from './schema.js';

/**
 * Settings a running replica cannot take from a reload, because what they configure is built
 * once per process and outlives configuration generations (src/app/generation.ts):
 * - `port`, `host`: the HTTP server is already listening;
 * - `databaseUrl`, `databaseAppRole`, `dataDir`: the pool (and the embedded server) is open;
 * - `publicUrl`: main.ts hands it to the console surface and prints it at start;
 * - `logLevel`: the logger and every child logger areas hold were made with it (pino children
 *   copy the level when made, so changing it would reach only some lines);
 * - `slack.*`: the chat mode and the Slack clients and receiver (tokens, signing secret);
 * - `console.*`: the console surface, who may sign in, its channels;
 * - `ops.shutdownBudgetSeconds`, `ops.drainDelaySeconds`: the signal handlers took them at start.
 * Everything else (policies, routes, schedules, receivers, templates...) belongs to a generation.
 */
const WHOLE: readonly (keyof Config)[] = ['port', 'host', 'databaseUrl', 'databaseAppRole', 'dataDir', 'publicUrl', 'logLevel'];
/** Sections whose every key is env-only: named key by key (`slack.botToken`). */
const SECTIONS = ['slack', 'console'] as const;
const OPS_KEYS = ['shutdownBudgetSeconds', 'drainDelaySeconds'] as const;

/** The dotted keys of env-only settings that differ between `current` and `next`; empty when a reload may proceed. */
export function envOnlyChanges(current: Config, next: Config): string[] {
  const out: string[] = [];
  for (const k of WHOLE) if (!isDeepStrictEqual(current[k], next[k])) out.push(k);
  for (const section of SECTIONS) {
    const a = (current[section] ?? {}) as Record<string, unknown>;
    const b = (next[section] ?? {}) as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (!isDeepStrictEqual(a[k], b[k])) out.push(`${section}.${k}`);
    }
  }
  for (const k of OPS_KEYS) if (!isDeepStrictEqual(current.ops?.[k], next.ops?.[k])) out.push(`ops.${k}`);
  return out;
}

/** The refusal people read (CLI, chat, log): which settings, and that a restart applies them. */
export function envOnlyMessage(keys: string[]): string {
  return `These settings cannot change while Firebreak runs: ${keys.join(', ')}. Change them in the environment or file and restart each replica; the configuration was not switched.`;
}
