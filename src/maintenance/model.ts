import { makeMatcher, type Matcher } from '../alerts/matchers.js';
import { parseSilenceArgs } from '../silences/model.js';

/**
 * `<service|matchers> <duration> <reason>`: a bare word is a service (the matcher
 * `<serviceLabel>="<word>"`), anything else is Alertmanager matchers as for `/alerts silence`.
 */
export function parseMaintenanceArgs(text: string, serviceLabel: string, maxMs: number): { target: string; matchers: Matcher[]; durationMs: number; reason: string } {
  const first = text.trim().split(/\s+/)[0] ?? '';
  const isDuration = /^-?(?:\d+(?:y|w|d|h|m|s|ms))+$/.test(first);
  if (!isDuration && !/[=~{"]/.test(first)) {
    if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/i.test(first)) throw new Error(`"${first}" is neither a service name nor matchers; e.g. \`/alerts maintenance checkout 2h deploy\` or \`/alerts maintenance team="db" 1h failover\``);
    const rest = text.trim().slice(first.length);
    const parsed = parseSilenceArgs(`${serviceLabel}="${first}"${rest}`, maxMs);
    return { target: `${serviceLabel}=${first}`, matchers: [makeMatcher(serviceLabel, '=', first)], durationMs: parsed.durationMs, reason: parsed.comment };
  }
  const parsed = parseSilenceArgs(text, maxMs);
  return { target: parsed.matchers.map((m) => `${m.name}${m.op}"${m.value}"`).join(', '), matchers: parsed.matchers, durationMs: parsed.durationMs, reason: parsed.comment };
}
