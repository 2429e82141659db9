/**
 * Runs the real `amtool` (Debian's prometheus-alertmanager 0.25, installed by
 * scripts/test-deps.sh) and Firebreak's routing on the same route tree, so tests can compare.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { alertsConfigSchema, type RouteConfig } from '../../src/alerts/config.js';
import { parseLabelArg } from '../../src/alerts/matchers.js';
import { compileRoutes, matchRoutes } from '../../src/alerts/routing.js';

export const AMTOOL = ['/usr/bin/amtool', 'amtool'].find((b) => spawnSync(b, ['--version']).status === 0);

/** A route tree in Alertmanager's own shape: `receiver` where Firebreak has `channel`. */
export interface AmRoute {
  receiver?: string;
  matchers?: string[];
  match?: Record<string, string>;
  match_re?: Record<string, string>;
  continue?: boolean;
  group_by?: string[];
  group_interval?: string;
  repeat_interval?: string;
  routes?: AmRoute[];
}

const toFirebreak = (r: AmRoute): RouteConfig => {
  const { receiver, routes, ...rest } = r;
  return { ...rest, ...(receiver ? { channel: receiver } : {}), ...(routes ? { routes: routes.map(toFirebreak) } : {}) };
};

const receiversOf = (r: AmRoute, out = new Set<string>()): Set<string> => {
  if (r.receiver) out.add(r.receiver);
  for (const c of r.routes ?? []) receiversOf(c, out);
  return out;
};

/** A label value in amtool's argument form: double-quoted with OpenMetrics escapes. */
export const labelArg = (name: string, value: string): string =>
  `${name}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`;

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(AMTOOL!, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: tmpdir() } }, (e, out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }));
  });
}

/** Runs `fn` on every item with at most `limit` in flight (amtool is a process per label set). */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

export interface Comparison {
  args: string[];
  amtool: string;
  firebreak: string;
}

/**
 * A scratch directory holding one tree as alertmanager.yml; `compare` asks amtool and
 * Firebreak where each label set (given as amtool arguments) goes.
 */
export class TreeUnderTest {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'fb-amtool-'));
  readonly file = path.join(this.dir, 'am.yml');
  readonly yaml: string;

  constructor(readonly root: AmRoute) {
    const receivers = [...receiversOf(root)].map((name) => ({ name }));
    this.yaml = stringify({ route: root, receivers }, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
    writeFileSync(this.file, this.yaml);
  }

  /** Whether each side accepts the tree: Firebreak's config schema and `amtool check-config`. */
  async validity(): Promise<{ amtool: boolean; firebreak: boolean; amtoolSays: string; firebreakSays: string }> {
    const am = await run(['check-config', this.file]);
    const fb = alertsConfigSchema.safeParse({ route: toFirebreak(this.root), defaultChannel: this.root.receiver });
    return { amtool: am.code === 0, firebreak: fb.success, amtoolSays: `${am.out}${am.err}`.trim(), firebreakSays: fb.error?.message ?? '' };
  }

  async compare(labelSets: string[][], concurrency = 4): Promise<Comparison[]> {
    const cfg = alertsConfigSchema.parse({ route: toFirebreak(this.root), defaultChannel: this.root.receiver });
    const tree = compileRoutes(cfg.route, cfg.defaultChannel);
    return pool(labelSets, concurrency, async (args) => {
      const am = await run(['config', 'routes', 'test', `--config.file=${this.file}`, ...args]);
      const labels: Record<string, string> = {};
      for (const a of args) {
        const { name, value } = parseLabelArg(a);
        labels[name] = value;
      }
      const firebreak = matchRoutes(tree, labels).map((r) => r.opts.channel).join(',');
      return { args, amtool: am.code === 0 ? am.out.trim() : `exit ${am.code}: ${am.err.trim()}`, firebreak };
    });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
