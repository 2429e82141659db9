import type pg from 'pg';
import { createPool } from '../db/pool.js';
import { ensureMigrated } from '../db/migrate.js';
import { createLogger, type Logger } from '../log.js';
import { loadConfig } from '../config/load.js';
import { chatMode, type Config } from '../config/schema.js';
import { embeddedDatabaseUrl } from '../db/embedded.js';
import { withTrialBackupKey } from '../backups/trial-key.js';

/** The value after `--name` in argv, if the flag is there. */
export function flagValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export interface CliRuntime {
  pool: pg.Pool;
  log: Logger;
  /** Aborted by Ctrl-C or SIGTERM: long work (a backup, a drill) stops and records itself interrupted. */
  signal: AbortSignal;
}

/**
 * What a long-running CLI verb needs: Firebreak's migrated database, a quiet logger, and a
 * signal that turns Ctrl-C into a clean stop instead of a half-recorded run. Everything is
 * released when `fn` settles.
 */
export async function withCliRuntime<T>(databaseUrl: string, fn: (rt: CliRuntime) => Promise<T>): Promise<T> {
  const pool = createPool(databaseUrl, 4);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await ensureMigrated(pool);
    return await fn({ pool, log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }), signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool.end();
  }
}

export interface CliDatabase {
  /** The configuration with `databaseUrl` set to the database found (and the console's trial key, when it runs on one). */
  config: Config;
  url: string;
  /** The arguments without `--database-url <url>`. */
  args: string[];
}

/**
 * Firebreak's database for a CLI verb: `--database-url`, else DATABASE_URL, else the embedded
 * server a running `npm start` announced under the data directory. Without any, the problem
 * says exactly how to get one.
 */
export function cliDatabase(argv: string[], verb: string): CliDatabase | { problem: string } {
  const i = argv.indexOf('--database-url');
  const args = i >= 0 ? argv.filter((_a, j) => j !== i && j !== i + 1) : argv;
  let config = loadConfig(process.env);
  let url = i >= 0 ? argv[i + 1] : config.databaseUrl;
  if (i >= 0 && !url) return { problem: `firebreak ${verb}: --database-url needs a postgres:// URL after it` };
  if (!url) {
    const found = embeddedDatabaseUrl(config.dataDir);
    if ('problem' in found) return { problem: `firebreak ${verb} needs Firebreak's database. ${found.problem}.` };
    url = found.url;
  }
  // Backups on the console's trial key are read with the same key the console wrote them with.
  if (chatMode(config) === 'console') config = withTrialBackupKey(config, { create: false }).config;
  return { config: { ...config, databaseUrl: url }, url, args };
}
