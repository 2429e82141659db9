/**
 * What a version means, for people: the validated configuration with defaults applied and
 * every secret masked (secrets come only from the environment: src/config/env.ts), and a
 * flat `key: old → new` diff between two of them.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { ENV_BINDINGS } from '../config/env.js';

export const MASK = '••••••';

export const contentHash = (content: string): string => createHash('sha256').update(content, 'utf8').digest('hex');

/** A JSON copy of the configuration with every secret-bound key that has a value replaced by MASK. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const b of ENV_BINDINGS) {
    if (!b.secret) continue;
    let cur: Record<string, unknown> | undefined = copy;
    for (const k of b.path.slice(0, -1)) {
      const next: unknown = cur?.[k];
      cur = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : undefined;
    }
    const last = b.path[b.path.length - 1]!;
    if (cur && cur[last] !== undefined && cur[last] !== null) cur[last] = MASK;
  }
  return copy;
}

/** Dotted key -> JSON value of every leaf (arrays are leaves: a list reads better whole). */
export function flatten(value: unknown, prefix = '', out: Map<string, string> = new Map()): Map<string, string> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, '{}');
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix && value !== undefined) {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

export interface DiffLine {
  key: string;
  old?: string;
  new?: string;
}

/** Every key whose value differs, sorted; absent on one side = added or removed. */
export function diffEffective(before: Record<string, unknown>, after: Record<string, unknown>): DiffLine[] {
  const a = flatten(before);
  const b = flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: DiffLine[] = [];
  for (const key of keys) {
    const o = a.get(key);
    const n = b.get(key);
    if (o === n) continue;
    out.push({ key, ...(o !== undefined ? { old: o } : {}), ...(n !== undefined ? { new: n } : {}) });
  }
  return out;
}

/** `key: old → new` (plain text; the chat templates escape it). */
export const diffLineText = (d: DiffLine): string => `${d.key}: ${d.old ?? '(unset)'} → ${d.new ?? '(unset)'}`;

