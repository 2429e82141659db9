import type { Severity } from '../incidents/config.js';
import type { EscalateTo, RouteConfig } from './config.js';
import { matchersKey, matchersOf, matchesAll, parseDuration, type Labels, type Matcher } from './matchers.js';

/** Alertmanager's defaults for the root route. */
export const DEFAULT_ROUTE_OPTS = {
  groupBy: [] as string[],
  groupByAll: false,
  groupWaitMs: 30_000,
  groupIntervalMs: 5 * 60_000,
  repeatIntervalMs: 4 * 3_600_000,
};

/** A route's effective options after inheritance. */
export interface RouteOpts {
  channel: string;
  groupBy: string[];
  /** group_by: ['...']: every label is a grouping label (one group per distinct label set). */
  groupByAll: boolean;
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  mentions: string[];
  autoDeclare: { severity: Severity; title?: string } | null;
  /** 0 = never. */
  escalateAfterMs: number;
  escalateTo: EscalateTo | null;
  /** Not inherited, as in Alertmanager. */
  muteTimeIntervals: string[];
  activeTimeIntervals: string[];
}

export interface Route {
  matchers: Matcher[];
  continue: boolean;
  opts: RouteOpts;
  routes: Route[];
  /** `{}/{owner="a"}/{env="prod"}`: identifies the route in group keys. */
  key: string;
}


/** Builds the route tree from (already validated) config, applying inheritance like Alertmanager. */
export function compileRoutes(c: RouteConfig, defaultChannel: string, parent?: Route, index = 0, earlierSiblingKeys = new Set<string>()): Route {
  const base: RouteOpts = parent
    ? { ...parent.opts, muteTimeIntervals: [], activeTimeIntervals: [] }
    : { channel: defaultChannel, ...DEFAULT_ROUTE_OPTS, mentions: [], autoDeclare: null, escalateAfterMs: 0, escalateTo: null, muteTimeIntervals: [], activeTimeIntervals: [] };
  const opts: RouteOpts = { ...base };
  if (c.channel) opts.channel = c.channel;
  if (c.group_by) {
    opts.groupByAll = c.group_by.includes('...');
    opts.groupBy = opts.groupByAll ? [] : [...c.group_by];
  }
  if (c.group_wait) opts.groupWaitMs = parseDuration(c.group_wait);
  if (c.group_interval) opts.groupIntervalMs = parseDuration(c.group_interval);
  if (c.repeat_interval) opts.repeatIntervalMs = parseDuration(c.repeat_interval);
  if (c.mentions) opts.mentions = [...c.mentions];
  if (c.auto_declare !== undefined) opts.autoDeclare = c.auto_declare;
  if (c.escalate_after) opts.escalateAfterMs = parseDuration(c.escalate_after);
  if (c.escalate_to !== undefined) opts.escalateTo = c.escalate_to;
  opts.muteTimeIntervals = [...(c.mute_time_intervals ?? [])];
  opts.activeTimeIntervals = [...(c.active_time_intervals ?? [])];
  const matchers = parent ? matchersOf(c.match, c.match_re, c.matchers) : [];
  // As Alertmanager's route ID: siblings with the same matchers are told apart by position,
  // so their groups stay separate; otherwise the key survives reordering the config.
  const own = matchersKey(matchers);
  const twin = earlierSiblingKeys.has(own);
  earlierSiblingKeys.add(own);
  const key = parent ? `${parent.key}/${own}${twin ? `#${index}` : ''}` : '{}';
  const route: Route = { matchers, continue: c.continue ?? false, opts, routes: [], key };
  // Keys of earlier siblings, so twins are found without compiling any sibling's regexes twice.
  const childKeys = new Set<string>();
  route.routes = (c.routes ?? []).map((child, i) => compileRoutes(child, defaultChannel, route, i, childKeys));
  return route;
}

/**
 * The routes an alert goes to, depth first: the deepest matching route wins; a matching
 * child stops its later siblings unless it has `continue: true`; a route none of whose
 * children match takes the alert itself.
 */
export function matchRoutes(route: Route, labels: Labels): Route[] {
  if (!matchesAll(route.matchers, labels)) return [];
  const out: Route[] = [];
  for (const child of route.routes) {
    const hit = matchRoutes(child, labels);
    out.push(...hit);
    if (hit.length > 0 && !child.continue) break;
  }
  return out.length > 0 ? out : [route];
}

/** The labels that define an alert's group on a route. */
export function groupLabels(route: Route, labels: Labels): Labels {
  if (route.opts.groupByAll) return { ...labels };
  const out: Labels = {};
  for (const name of route.opts.groupBy) if (labels[name] !== undefined && labels[name] !== '') out[name] = labels[name]!;
  return out;
}

/** Stable identity of an alert group: the route and the values of its grouping labels. */
export function groupKey(route: Route, labels: Labels): string {
  const g = groupLabels(route, labels);
  const parts = Object.keys(g).sort().map((k) => `${k}=${JSON.stringify(g[k])}`);
  return `${route.key}:{${parts.join(',')}}`;
}

/** Every route in the tree, depth first (for validation and docs). */
export function walkRoutes(route: Route, visit: (r: Route) => void): void {
  visit(route);
  for (const c of route.routes) walkRoutes(c, visit);
}

export function findRouteByKey(root: Route, key: string): Route | undefined {
  let found: Route | undefined;
  walkRoutes(root, (r) => {
    if (!found && r.key === key) found = r;
  });
  return found;
}
