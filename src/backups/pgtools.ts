import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { childEnv } from '../child-env.js';

/**
 * Running PostgreSQL's client programs safely: passwords travel in PGPASSWORD/PGPASSFILE, never
 * argv (argv is visible to every user in `ps`), and versions are checked before a dump starts.
 */
export interface Connection {
  url: string;
  passwordEnv?: string;
  passfile?: string;
}

export function pgBin(binDir: string | undefined, name: string): string {
  return binDir ? path.join(binDir, name) : name;
}

/**
 * The URL without its password, and the minimal environment that carries the password
 * instead. A password given as `?password=` in the query string is moved too: libpq would
 * accept it there, but the URL is argv.
 */
export function libpqArgs(conn: Connection): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(conn.url);
  const fromEnv = conn.passwordEnv ? process.env[conn.passwordEnv] : undefined;
  const inQuery = u.searchParams.get('password') ?? undefined;
  const password = fromEnv ?? (u.password ? decodeURIComponent(u.password) : inQuery);
  u.password = '';
  u.searchParams.delete('password');
  const env = childEnv({
    PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10',
    ...(password ? { PGPASSWORD: password } : {}),
    ...(conn.passfile ? { PGPASSFILE: conn.passfile } : {}),
  });
  return { url: u.toString(), env };
}

/** A pg client config for the same connection (password from env when configured so). */
export function clientConfig(conn: Connection): pg.ClientConfig {
  const fromEnv = conn.passwordEnv ? process.env[conn.passwordEnv] : undefined;
  return { connectionString: conn.url, ...(fromEnv ? { password: fromEnv } : {}), application_name: 'firebreak-backup', connectionTimeoutMillis: 10_000 };
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Keeps the tail of a child's stderr: enough for the message, bounded for memory. */
export function collectStderr(child: ChildProcess, limit = 16 * 1024): () => string {
  let buf = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    buf = (buf + s).slice(-limit);
  });
  return () => buf.trim();
}

/** Resolves with the exit code (signal kills give null plus the signal name). */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
}

export async function runTool(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(bin, args, { env: opts.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const stderr = collectStderr(child);
  const spawnError = new Promise<Error | undefined>((r) => child.once('error', r));
  const { code } = await exitOf(child);
  const err = await Promise.race([spawnError, Promise.resolve(undefined)]);
  if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${bin} not found: install the PostgreSQL client (or zstd) or set backups.pgBinDir`);
  if (err) throw err;
  return { code, stdout, stderr: stderr() };
}

/** `pg_dump (PostgreSQL) 15.20 (Debian ...)` -> { version: '15.20', major: 15 }. */
export async function toolVersion(bin: string): Promise<{ version: string; major: number }> {
  const r = await runTool(bin, ['--version']);
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`could not read the version of ${bin}: ${r.stderr || r.stdout}`);
  return { version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) };
}

export function majorOfServerVersionNum(num: number): number {
  return Math.floor(num / 10000);
}

/**
 * The tables row counts cover (`schema.table` keys), with what decides whether a table's count
 * is its own rows only: a partitioned table ('p') or one with inheritance children counts theirs too.
 */
export interface UserTable {
  schemaname: string;
  tablename: string;
  relkind: string;
  haschildren: boolean;
}

export async function userTablesOn(client: pg.Client | pg.PoolClient): Promise<UserTable[]> {
  const { rows } = await client.query<UserTable>(
    `SELECT n.nspname AS schemaname, c.relname AS tablename, c.relkind::text AS relkind, c.relhassubclass AS haschildren
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        AND n.nspname NOT LIKE 'pg_temp%' AND NOT c.relispartition
      ORDER BY 1, 2`,
  );
  return rows;
}

/** Exact row count of one table (children included, as countRowsOn counts). */
export async function countTableOn(client: pg.Client | pg.PoolClient, t: Pick<UserTable, 'schemaname' | 'tablename'>): Promise<number> {
  const ident = `${pg.escapeIdentifier(t.schemaname)}.${pg.escapeIdentifier(t.tablename)}`;
  const r = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${ident}`);
  return Number(r.rows[0]!.n);
}

/** Exact row counts per user table, `schema.table` -> count, on an open client (inside the snapshot). */
export async function countRowsOn(client: pg.Client | pg.PoolClient): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of await userTablesOn(client)) out[`${t.schemaname}.${t.tablename}`] = await countTableOn(client, t);
  return out;
}

/** The database's size on disk (tables, TOAST, indexes): an upper bound for what a dump of it stores compressed. */
export async function databaseSizeOn(client: pg.Client): Promise<number> {
  return Number((await client.query<{ n: string }>('SELECT pg_database_size(current_database())::text AS n')).rows[0]!.n);
}

/** The server's version, as a number (150020) and as it names itself (`15.2`). */
export async function serverVersionOn(client: pg.Client): Promise<{ num: number; version: string }> {
  const sv = await client.query<{ num: number; v: string }>(`SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS v`);
  return { num: sv.rows[0]!.num, version: sv.rows[0]!.v.split(' ')[0]! };
}

/**
 * Opens a read-only snapshot on `client` and exports it for pg_dump (`--snapshot`), so the
 * dump and the row counts see the same data. A hot standby cannot export snapshots: the
 * counts then come from a snapshot of their own and the result is undefined.
 */
export async function exportSnapshot(client: pg.Client, oneCore: boolean): Promise<string | undefined> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let snapshot: string | undefined;
  try {
    snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
  } catch {
    await client.query('ROLLBACK');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }
  // One core for the counts: parallel workers would compete with the dump or its verification.
  if (oneCore) await client.query('SET LOCAL max_parallel_workers_per_gather = 0');
  return snapshot;
}

/** Ends the snapshot's transaction; nothing was written, so how it ends does not matter. */
export async function endSnapshot(client: pg.Client): Promise<void> {
  await client.query('COMMIT').catch(() => {});
}

export async function databaseExistsOn(admin: pg.Client, name: string): Promise<boolean> {
  return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
}

export async function createDatabaseOn(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0`);
}

export async function dropDatabaseOn(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}
