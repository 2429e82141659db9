import type pg from 'pg';
import { createPool } from '../db/pool.js';
import { ensureMigrated } from '../db/migrate.js';
import { createLogger, type Logger } from '../log.js';

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
