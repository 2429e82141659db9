import { createHash } from 'node:crypto';
import type { Flag, FlagsConfig } from './config.js';

export interface FlagSubject {
  userId?: string;
  channelId?: string;
}

/**
 * The bucket (0-99) an id falls in for a flag: the same for the same flag and id on every
 * replica and every start, and independent between flags (the name is part of the hash), so
 * raising a percentage only ever adds ids.
 */
export function flagBucket(name: string, id: string): number {
  return createHash('sha256').update(`${name}\u0000${id}`).digest().readUInt32BE(0) % 100;
}

/**
 * Whether a flag is on for this user or channel. Unknown flags and `enabled: false` are off;
 * without a percentage `enabled: true` is on for everyone; with one, ids whose bucket is below
 * it are on (an unknown id is off: a rollout never guesses). Pass the configuration current at
 * the call (ctx.config.flags), so a new version applies at once.
 */
export function flagEnabled(flags: FlagsConfig, name: string, subject: FlagSubject = {}): boolean {
  const f = flags[name];
  if (!f || f.enabled === false) return false;
  if (f.percentage === undefined) return f.enabled === true;
  const id = (f.by ?? 'user') === 'user' ? subject.userId : subject.channelId;
  if (!id) return false;
  return flagBucket(name, id) < f.percentage;
}

/** One line per flag for `/config flags`: what it does and who has it. */
export function describeFlag(name: string, f: Flag): string {
  const state = f.enabled === false ? 'off' : f.percentage !== undefined ? `${f.percentage}% of ${f.by ?? 'user'}s` : f.enabled ? 'on for everyone' : 'off';
  return `${name}: ${state}${f.description ? ` — ${f.description}` : ''}`;
}
