import type { InhibitRuleConfig } from './config.js';
import { matchersOf, matchesAll, type Labels, type Matcher } from './matchers.js';

export interface InhibitRule {
  source: Matcher[];
  target: Matcher[];
  equal: string[];
}

export function compileInhibitRules(rules: InhibitRuleConfig[]): InhibitRule[] {
  return rules.map((r) => ({
    source: matchersOf(r.source_match, r.source_match_re, r.source_matchers),
    target: matchersOf(r.target_match, r.target_match_re, r.target_matchers),
    equal: r.equal,
  }));
}

export interface FiringAlert {
  fingerprint: string;
  labels: Labels;
}

/**
 * Alertmanager's inhibition: a target alert is muted while some other firing alert matches
 * the rule's source matchers and has the same values for every `equal` label (absent
 * equals absent). An alert never inhibits itself.
 */
export function isInhibited(rules: InhibitRule[], target: FiringAlert, firing: FiringAlert[]): boolean {
  for (const rule of rules) {
    if (!matchesAll(rule.target, target.labels)) continue;
    for (const src of firing) {
      if (src.fingerprint === target.fingerprint) continue;
      if (!matchesAll(rule.source, src.labels)) continue;
      if (rule.equal.every((n) => (src.labels[n] ?? '') === (target.labels[n] ?? ''))) return true;
    }
  }
  return false;
}

/** The `=` part of each rule's source matchers: a containment filter to fetch candidate sources in SQL. */
export function sourceContainment(rule: InhibitRule): Labels {
  const out: Labels = {};
  for (const m of rule.source) if (m.op === '=' && m.value !== '') out[m.name] = m.value;
  return out;
}
