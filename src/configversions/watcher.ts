/**
 * The platform component that keeps a replica on the active configuration version: LISTEN
 * firebreak_config on a dedicated connection (re-established when PostgreSQL restarts) plus a
 * periodic check, so a missed notification only delays a switch. When the active version is
 * not what the replica runs, its hash is verified, its text + this environment becomes the
 * Config, and the app reloads into it (src/app/app.ts `reload`, part A); then every
 * `onSwitched` listener hears of it (part C's rollback watch).
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import type { Config } from '../config/schema.js';
import type { ConfigVersionRef, ReloadOutcome } from '../config/version-ref.js';
import { CONFIG_CHANNEL, type StoredVersion } from './store.js';
import type { Verified } from './service.js';

/** What the watcher drives: the app (part A's FirebreakApp has both). */
export interface ReloadTarget {
  reload(next: Config, version: ConfigVersionRef): Promise<ReloadOutcome>;
  readonly configVersion: ConfigVersionRef | undefined;
}

/** What the watcher needs from the area's service. */
export interface WatchedVersions {
  active(): Promise<StoredVersion | undefined>;
  verify(v: StoredVersion): Verified;
  refuseTampered(v: StoredVersion): Promise<void>;
  ensureActive(fileText: string): Promise<{ version: StoredVersion; fileDiffers: boolean }>;
}

export type SwitchListener = (to: ConfigVersionRef, from: ConfigVersionRef | undefined) => void;

export interface WatcherDeps {
  pool: pg.Pool;
  log: Logger;
  versions: WatchedVersions;
  /** The FIREBREAK_CONFIG file's text (empty when unset), read at start. */
  fileText: () => string;
  checkIntervalSeconds: number;
  onSwitched?: SwitchListener[];
  /** Pause before LISTEN is tried again after the connection dropped. */
  reconnectMs?: number;
}

export interface ConfigWatcher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One check of the active version now (the periodic check and every NOTIFY call this). */
  check(): Promise<ReloadOutcome | { status: 'none' } | { status: 'refused-version'; problem: string }>;
  /** Whether the LISTEN connection is up (for tests and readiness). */
  readonly listening: boolean;
}

/** A platform component per the contract: `(app) => { start, stop }`, started after the first generation is up. */
export function configWatcher(d: WatcherDeps): (app: ReloadTarget) => ConfigWatcher {
  return (app) => {
    let stopped = false;
    let client: pg.PoolClient | undefined;
    let timer: NodeJS.Timeout | undefined;
    let reconnect: NodeJS.Timeout | undefined;
    let chain: Promise<unknown> = Promise.resolve();
    // A refused version is reported once per replica, not at every check.
    const refused = new Set<string>();

    const checkOnce = async (): Promise<Awaited<ReturnType<ConfigWatcher['check']>>> => {
      const active = await d.versions.active();
      if (!active) return { status: 'none' };
      const running = app.configVersion;
      if (running && running.id === active.id && running.hash === active.hash) return { status: 'unchanged' };
      const key = `${active.id}:${active.hash}`;
      const verified = d.versions.verify(active);
      if (!verified.ok) {
        if (!refused.has(key)) {
          refused.add(key);
          if (verified.tampered) await d.versions.refuseTampered(active);
          else d.log.error({ version: active.id }, `configuration version #${active.id} cannot run on this replica: ${verified.problem}`);
        }
        return { status: 'refused-version', problem: verified.problem };
      }
      const outcome = await app.reload(verified.config, verified.ref);
      if (outcome.status === 'switched') {
        d.log.info({ version: outcome.to.id, from: outcome.from?.id }, `switched to configuration version #${outcome.to.id}`);
        for (const l of d.onSwitched ?? []) {
          try {
            l(outcome.to, outcome.from);
          } catch (err) {
            d.log.error({ err }, 'a configuration switch listener failed');
          }
        }
      } else if (outcome.status === 'refused' || outcome.status === 'failed') {
        if (!refused.has(key)) {
          refused.add(key);
          d.log.error({ version: active.id, outcome }, `this replica could not switch to configuration version #${active.id}`);
        }
      }
      return outcome;
    };

    // Checks never overlap: a NOTIFY during a periodic check waits for it.
    const check: ConfigWatcher['check'] = () => {
      const next = chain.then(checkOnce, checkOnce);
      chain = next.catch(() => undefined);
      return next;
    };
    const checkLogged = () => void check().catch((err: unknown) => d.log.warn({ err }, 'could not check the active configuration version'));

    const listen = async (): Promise<void> => {
      if (stopped) return;
      try {
        const c = await d.pool.connect();
        const drop = (err?: Error) => {
          if (client !== c) return;
          client = undefined;
          c.removeAllListeners('notification');
          c.release(err ?? true);
          if (!stopped) {
            d.log.warn({ err }, 'lost the configuration LISTEN connection; reconnecting');
            reconnect = setTimeout(() => void listen(), d.reconnectMs ?? 1000);
          }
        };
        client = c;
        c.on('notification', (n) => {
          if (n.channel === CONFIG_CHANNEL) checkLogged();
        });
        c.on('error', (err) => drop(err));
        c.on('end', () => drop(new Error('the LISTEN connection ended')));
        await c.query(`LISTEN ${CONFIG_CHANNEL}`);
        // A switch while the connection was down was not heard: look now.
        checkLogged();
      } catch (err) {
        if (stopped) return;
        d.log.warn({ err }, 'could not LISTEN for configuration switches; retrying');
        reconnect = setTimeout(() => void listen(), d.reconnectMs ?? 1000);
      }
    };

    return {
      get listening() {
        return client !== undefined;
      },
      check,
      start: async () => {
        const file = d.fileText();
        const { version, fileDiffers } = await d.versions.ensureActive(file);
        if (fileDiffers) {
          d.log.warn({ version: version.id }, `the FIREBREAK_CONFIG file differs from the active configuration version #${version.id}; running the active version (propose or apply the file to change it)`);
        }
        await check();
        await listen();
        timer = setInterval(checkLogged, d.checkIntervalSeconds * 1000);
        timer.unref();
      },
      stop: async () => {
        stopped = true;
        if (timer) clearInterval(timer);
        if (reconnect) clearTimeout(reconnect);
        const c = client;
        client = undefined;
        if (c) {
          c.removeAllListeners('notification');
          await c.query(`UNLISTEN ${CONFIG_CHANNEL}`).catch(() => undefined);
          c.release();
        }
        await chain;
      },
    };
  };
}
