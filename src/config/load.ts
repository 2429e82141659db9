import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, slackModeProblem, type Config } from './schema.js';
import { ENV_BINDINGS } from './env.js';

export interface ConfigProblem {
  key: string;
  source: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      'Invalid configuration:\n' +
        problems.map((p) => `  - ${p.key} (from ${p.source}): ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;
type Tree = Record<string, unknown>;

function setPath(obj: Tree, path: string[], value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Tree;
  }
  cur[path[path.length - 1]!] = value;
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Tree)[k];
  }
  return cur;
}

/**
 * Reads configuration from the YAML file named by FIREBREAK_CONFIG (optional) and the
 * environment (which wins), validates it, and throws a ConfigError naming every bad key,
 * where it came from and what was expected.
 */
export function loadConfig(env: Env = process.env, overrides: Tree = {}): Config {
  const file = env.FIREBREAK_CONFIG;
  if (!file) return loadConfigText(undefined, env, { overrides });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // Reported like every other problem, together with what the environment gets wrong.
    return loadConfigText(undefined, env, { overrides, readProblem: { key: '(file)', source: `env FIREBREAK_CONFIG=${file}`, message: `cannot read YAML: ${(e as Error).message}` } });
  }
  return loadConfigText(text, env, { overrides, label: `file ${file}`, fileVar: file });
}

/** The configuration file's text (empty when FIREBREAK_CONFIG is unset): what a stored version holds. */
export function readConfigText(env: Env = process.env): string {
  return env.FIREBREAK_CONFIG ? readFileSync(env.FIREBREAK_CONFIG, 'utf8') : '';
}

/**
 * The configuration from YAML text plus the environment, validated exactly as loadConfig
 * validates the file: a stored version (src/configversions) is this text, and what a replica
 * runs is that text with its own environment (secrets come only from there).
 */
export function loadConfigText(
  text: string | undefined,
  env: Env = process.env,
  opts: { label?: string; overrides?: Tree; readProblem?: ConfigProblem; fileVar?: string } = {},
): Config {
  const overrides = opts.overrides ?? {};
  const problems: ConfigProblem[] = opts.readProblem ? [opts.readProblem] : [];
  const sources = new Map<string, string>();
  let raw: Tree = {};
  const label = opts.label ?? 'configuration text';
  const file = text === undefined ? undefined : label;
  if (text !== undefined) {
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          problems.push({ key: '(root)', source: label, message: 'expected a YAML mapping at the top level' });
        } else raw = parsed as Tree;
      }
    } catch (e) {
      problems.push({ key: '(file)', source: opts.fileVar ? `env FIREBREAK_CONFIG=${opts.fileVar}` : label, message: `cannot read YAML: ${(e as Error).message}` });
    }
  }
  for (const b of ENV_BINDINGS) {
    if (b.secret && getPath(raw, b.path) !== undefined) {
      problems.push({
        key: b.path.join('.'),
        source: `${file}`,
        message: `is a secret and is not read from the config file; set ${b.env} (or ${b.env}_FILE) instead`,
      });
      setPath(raw, b.path, undefined);
    }
  }
  for (const b of ENV_BINDINGS) {
    let value = env[b.env];
    let source = `env ${b.env}`;
    const fileVar = env[`${b.env}_FILE`];
    if (value === undefined && b.secret && fileVar) {
      source = `env ${b.env}_FILE`;
      try {
        value = readFileSync(fileVar, 'utf8').trim();
      } catch (e) {
        problems.push({ key: b.path.join('.'), source, message: `cannot read ${fileVar}: ${(e as Error).message}` });
        continue;
      }
    }
    if (value === undefined || value === '') continue;
    const parsed = b.kind === 'number' ? Number(value) : b.kind === 'list' ? value.split(',').map((s) => s.trim()).filter(Boolean) : b.kind === 'boolean' ? parseBoolean(value) : value;
    setPath(raw, b.path, parsed);
    sources.set(b.path.join('.'), source);
  }
  for (const [k, v] of Object.entries(overrides)) raw[k] = v;

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.map(String).join('.') || '(root)';
      const source = sources.get(key) ?? file ?? 'defaults';
      problems.push({ key, source, message: describeIssue(issue) });
    }
  }
  if (result.success) {
    const slack = slackModeProblem(result.data);
    if (slack) problems.push({ key: 'slack', source: 'env SLACK_*', message: slack });
    for (const key of unknownKeys(raw, result.data, [])) {
      problems.push({ key, source: file ?? 'overrides', message: 'unknown key (a typo? it would be ignored)' });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data!;
}

/** true/false as people write them in env; anything else is left for the schema to refuse by name. */
function parseBoolean(v: string): boolean | string {
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  return v;
}

const isPlainObject = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * Keys the schema dropped. zod strips unknown keys silently, which would turn a typo such as
 * `incidnets:` into a silently ignored section; comparing input with output finds them.
 */
function unknownKeys(input: unknown, output: unknown, path: string[]): string[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((v, i) => unknownKeys(v, output[i], [...path, String(i)]));
  }
  if (!isPlainObject(input) || !isPlainObject(output)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    if (!(k in output)) out.push([...path, k].join('.'));
    else out.push(...unknownKeys(v, output[k], [...path, k]));
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'unrecognized_keys') return `unknown key(s): ${issue.keys.join(', ')}`;
  return issue.message;
}

/** Config validation without starting anything: for `firebreak config check`. */
export function checkConfig(env: Env = process.env): { ok: true; config: Config } | { ok: false; error: ConfigError } {
  try {
    return { ok: true, config: loadConfig(env) };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, error: e };
    throw e;
  }
}
