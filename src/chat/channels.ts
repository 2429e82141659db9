/**
 * Every channel Firebreak posts to, resolved once at start: a missing one is created (Slack
 * apps with `channels:manage`, and the console) or reported once with the exact fix, so the
 * first incident, ops notice or alert does not discover it by failing.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ChatSurface } from './surface.js';
import { compileRoutes, walkRoutes } from '../alerts/routing.js';

export interface ConfiguredChannel {
  name: string;
  /** Which settings name it, for the fix. */
  usedBy: string[];
}

const bare = (c: string) => c.replace(/^#/, '');

/** Channel names (or ids) from the configuration, with the settings that name each. */
export function configuredChannels(config: Config): ConfiguredChannel[] {
  const byName = new Map<string, Set<string>>();
  const add = (name: string | undefined, by: string) => {
    if (!name) return;
    const n = bare(name);
    if (!byName.has(n)) byName.set(n, new Set());
    byName.get(n)!.add(by);
  };
  add(config.incidents.channel, 'incidents.channel');
  add(config.ops.channel, 'ops.channel');
  add(config.approvals.channel, 'approvals.channel');
  add(config.dr.channel, 'dr.channel');
  add(config.alerts.defaultChannel, 'alerts.defaultChannel');
  walkRoutes(compileRoutes(config.alerts.route, config.alerts.defaultChannel), (r) => add(r.opts.channel, `alerts.route (${r.key === '{}' ? 'root' : r.key})`));
  return [...byName].map(([name, usedBy]) => ({ name, usedBy: [...usedBy] }));
}

export interface ChannelCheck {
  found: string[];
  created: string[];
  /** Channels that do not exist and could not be created, with the fix. */
  missing: { name: string; fix: string }[];
}

/** Slack channel ids (C…/G…) are not names: they cannot be created, only found. */
const isId = (c: string) => /^[CG][A-Z0-9]{6,}$/.test(c);

/** What to do about a configured channel that does not exist, in the words of its settings. */
function fixFor(ch: ConfiguredChannel): string {
  return isId(ch.name)
    ? `channel ${ch.name} (${ch.usedBy.join(', ')}) does not exist or the bot cannot see it: invite the bot to it, or change ${ch.usedBy.join(' / ')}`
    : `#${ch.name} (${ch.usedBy.join(', ')}) does not exist and the bot cannot create it: create #${ch.name} in Slack (or give the app the channels:manage scope), or change ${ch.usedBy.join(' / ')}`;
}

/**
 * Looks up every configured channel without creating any (readiness, `config check`), and
 * says for each missing one what to do. Throws when the chat surface itself cannot be asked
 * (bad token, Slack unreachable).
 */
export async function findMissingChannels(config: Config, chat: Pick<ChatSurface, 'findChannel'>): Promise<{ name: string; fix: string }[]> {
  const missing: { name: string; fix: string }[] = [];
  for (const ch of configuredChannels(config)) {
    if (await chat.findChannel(ch.name)) continue;
    const fix = isId(ch.name)
      ? fixFor(ch)
      : `#${ch.name} (${ch.usedBy.join(', ')}) does not exist: Firebreak creates it at start when the app has the channels:manage scope; otherwise create #${ch.name} in Slack, or change ${ch.usedBy.join(' / ')}`;
    missing.push({ name: ch.name, fix });
  }
  return missing;
}

export async function ensureChannels(config: Config, chat: ChatSurface, log: Logger): Promise<ChannelCheck> {
  const out: ChannelCheck = { found: [], created: [], missing: [] };
  for (const ch of configuredChannels(config)) {
    try {
      if (await chat.findChannel(ch.name)) {
        out.found.push(ch.name);
        continue;
      }
    } catch (err) {
      log.warn({ err, channel: ch.name }, 'could not look up a configured channel');
      continue;
    }
    if (!isId(ch.name)) {
      try {
        await chat.createChannel(ch.name);
        out.created.push(ch.name);
        log.info({ channel: ch.name, usedBy: ch.usedBy }, `created #${ch.name}, which ${ch.usedBy.join(', ')} names and did not exist`);
        continue;
      } catch (err) {
        log.debug({ err, channel: ch.name }, 'could not create a configured channel');
      }
    }
    const fix = fixFor(ch);
    out.missing.push({ name: ch.name, fix });
    log.error({ channel: ch.name, usedBy: ch.usedBy }, fix);
  }
  return out;
}
