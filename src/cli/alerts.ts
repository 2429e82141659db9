import { checkConfig } from '../config/load.js';
import { compileRoutes, groupKey, matchRoutes, walkRoutes, type Route } from '../alerts/routing.js';
import { parseLabelArg } from '../alerts/matchers.js';
import type { CliGroup, CliIo } from './types.js';

const fmtMs = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

function describe(r: Route): string {
  const o = r.opts;
  const by = o.groupByAll ? '[...]' : `[${o.groupBy.join(', ')}]`;
  const extra = [
    o.mentions.length ? `mentions ${o.mentions.join(' ')}` : '',
    o.autoDeclare ? `auto_declare ${o.autoDeclare.severity}` : '',
    o.muteTimeIntervals.length ? `muted in ${o.muteTimeIntervals.join(', ')}` : '',
    o.activeTimeIntervals.length ? `active in ${o.activeTimeIntervals.join(', ')}` : '',
    r.continue ? 'continue' : '',
  ].filter(Boolean);
  return `#${o.channel}  group_by ${by}  wait ${fmtMs(o.groupWaitMs)} interval ${fmtMs(o.groupIntervalMs)} repeat ${fmtMs(o.repeatIntervalMs)}${extra.length ? `  ${extra.join('  ')}` : ''}`;
}

function asJson(r: Route): Record<string, unknown> {
  return { route: r.key, continue: r.continue, ...r.opts };
}

function printTree(root: Route, io: CliIo): void {
  walkRoutes(root, (r) => {
    const depth = r.key === '{}' ? 0 : r.key.split('/').length - 1;
    io.out(`${'  '.repeat(depth)}${r.key === '{}' ? '(root)' : r.key.split('/').pop()}  ${describe(r)}`);
  });
}

export const alertsCli: CliGroup = {
  name: 'alerts',
  summary: 'inspect alert routing from the configuration',
  verbs: { 'routes [label=value ...] [--json]': 'print the route tree; with label=value pairs (amtool\'s forms: team=db, team="db"), show where such an alert goes (like amtool config routes test)' },
  async run(verb, argv, io) {
    if (verb !== 'routes') {
      io.err('usage: firebreak alerts routes [label=value ...] [--json]');
      return 2;
    }
    const json = argv.includes('--json');
    const args = argv.filter((a) => a !== '--json');
    const r = checkConfig(process.env);
    if (!r.ok) {
      io.err(r.error.message);
      return 1;
    }
    const root = compileRoutes(r.config.alerts.route, r.config.alerts.defaultChannel);
    if (args.length === 0) {
      if (json) {
        const all: Record<string, unknown>[] = [];
        walkRoutes(root, (r) => void all.push(asJson(r)));
        io.out(JSON.stringify(all, null, 2));
      } else printTree(root, io);
      return 0;
    }
    const labels: Record<string, string> = {};
    for (const a of args) {
      try {
        const { name, value } = parseLabelArg(a);
        labels[name] = value;
      } catch (e) {
        io.err(`"${a}" is not label=value (amtool's forms: team=db, team="db", msg="a, b"): ${(e as Error).message}`);
        return 2;
      }
    }
    const matched = matchRoutes(root, labels);
    if (json) io.out(JSON.stringify(matched.map((route) => ({ ...asJson(route), group: groupKey(route, labels) })), null, 2));
    else for (const route of matched) io.out(`${describe(route)}\n  group ${groupKey(route, labels)}`);
    return 0;
  },
};
