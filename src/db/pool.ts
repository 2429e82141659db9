import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

// Return BIGINT (int8) as JS numbers: ids and byte counts stay well under 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * How long a caller waits for a connection before failing. Without it pg waits forever: a
 * connection held by work that never ends (or a burst after a PostgreSQL restart) turned into
 * jobs that never finished while their replica kept renewing their claims.
 */
export const ACQUIRE_TIMEOUT_MS = 15_000;

export function createPool(connectionString: string, max = 10, acquireTimeoutMs = ACQUIRE_TIMEOUT_MS): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'firebreak', connectionTimeoutMillis: acquireTimeoutMs, keepAlive: true });
  // A client losing its server (PostgreSQL restarting, a failover) must not crash the process:
  // an idle one is dropped by the pool and the next query reconnects; a checked-out one fails
  // its query, which the caller handles. Without these listeners node throws the 'error' event.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Runs fn in a transaction on one client; rolls back on any error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A client whose ROLLBACK failed is in an unknown state (its server may be gone): the pool
  // must discard it, not hand it to the next caller.
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch((err: Error) => (broken = err));
    throw e;
  } finally {
    client.release(broken);
  }
}

/**
 * One short-lived connection outside the pool (another server, a database being created or
 * dropped), closed when `fn` settles. A dropped connection fails the query in hand instead of
 * throwing an unheard 'error' event.
 */
export async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(config);
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * True when the database refused a value itself (class 22 data exception: invalid text,
 * encoding, datetime overflow; class 54: program limit, e.g. an index row too large). Such a
 * write fails the same way every time, so its sender must hear 4xx, not a retry-forever 5xx.
 * Everything else (unreachable, restarting, locks, a constraint or grant an operator can fix)
 * may succeed on a retry and stays a 503.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|54)[0-9A-Z]{3}$/.test(code);
}

/**
 * True when the server was not there for a moment: refused or dropped connections, and
 * PostgreSQL starting up or shutting down (SQLSTATE 57P01-57P03). A restart produces these
 * for about a second; the same request a little later succeeds.
 */
export function isServerUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && ['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', '08000', '08001', '08003', '08006'].includes(e.code)) return true;
  return /Connection terminated|not queryable|the database system is (starting up|shutting down)/i.test(e.message ?? '');
}

/**
 * Runs fn, retrying while the server is unavailable (see isServerUnavailable) for up to
 * `withinMs`: what a process starting during a PostgreSQL restart needs, so the restart costs
 * it a second instead of its life. Any other error, or one that outlasts the window, is thrown.
 */
export async function whileServerReturns<T>(fn: () => Promise<T>, withinMs: number, onRetry?: (err: unknown) => void, pauseMs = 250): Promise<T> {
  // Elapsed time, not business time: performance.now() (the injected Clock may be a test's).
  const until = performance.now() + withinMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isServerUnavailable(e) || performance.now() + pauseMs > until) throw e;
      onRetry?.(e);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

/**
 * Session advisory locks: held by one connection until unlocked or the connection ends, so
 * a process that dies gives them up. A text key is hashed (`hashtext`) into the lock space.
 */
export async function tryAdvisoryLock(session: Queryable, key: number | string): Promise<boolean> {
  const sql = typeof key === 'string' ? 'SELECT pg_try_advisory_lock(hashtext($1)) AS ok' : 'SELECT pg_try_advisory_lock($1) AS ok';
  const { rows } = await session.query<{ ok: boolean }>(sql, [key]);
  return !!rows[0]?.ok;
}

export async function advisoryUnlock(session: Queryable, key: number | string): Promise<void> {
  await session.query(typeof key === 'string' ? 'SELECT pg_advisory_unlock(hashtext($1))' : 'SELECT pg_advisory_unlock($1)', [key]);
}
