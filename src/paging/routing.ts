import { readFileSync } from 'node:fs';
import type { PagingConfig } from './config.js';

/** The service the default key (PAGERDUTY_ROUTING_KEY) pages. */
export const DEFAULT_SERVICE = 'default';
export const DEFAULT_ROUTING_KEY_ENV = 'PAGERDUTY_ROUTING_KEY';

export interface RoutingKey {
  service: string;
  /** Name of the env var the key came from: what we record and show, never the key itself. */
  envName: string;
  key: string;
}

type Env = Record<string, string | undefined>;

export const routingKeyEnvFor = (service: string, cfg: PagingConfig): string =>
  service === DEFAULT_SERVICE
    ? DEFAULT_ROUTING_KEY_ENV
    : cfg.services[service]?.routingKeyEnv ?? `${DEFAULT_ROUTING_KEY_ENV}_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

function readSecret(env: Env, name: string): string | undefined {
  const direct = env[name]?.trim();
  if (direct) return direct;
  const file = env[`${name}_FILE`];
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Routing keys by service, read once at start. The default key comes through the config
 * loader (PAGERDUTY_ROUTING_KEY or _FILE); per-service keys from their own env vars, which
 * the static env table cannot list because the service names are configuration.
 */
export function resolveRoutingKeys(cfg: PagingConfig, env: Env): Map<string, RoutingKey> {
  const keys = new Map<string, RoutingKey>();
  if (cfg.routingKey) keys.set(DEFAULT_SERVICE, { service: DEFAULT_SERVICE, envName: DEFAULT_ROUTING_KEY_ENV, key: cfg.routingKey });
  for (const service of Object.keys(cfg.services)) {
    if (service === DEFAULT_SERVICE) continue;
    const envName = routingKeyEnvFor(service, cfg);
    const key = readSecret(env, envName);
    if (key) keys.set(service, { service, envName, key });
  }
  return keys;
}
