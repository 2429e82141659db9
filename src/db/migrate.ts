import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** Arbitrary constant: the advisory lock that serialises migrations across replicas. */
const MIGRATION_LOCK = 727_001;

const migrationFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();

/** Migrations pending, or the app's role cannot apply them: start refuses with what to run. */
export class MigrationsPendingError extends Error {
  constructor(readonly pending: string[], cause: unknown) {
    super(
      `${pending.length} database migration(s) are pending (${pending.join(', ')}) and this database role cannot apply them ` +
        `(${(cause as Error)?.message ?? String(cause)}). Run \`firebreak migrate --app-role <this role>\` as the owner role, then start Firebreak again.`,
      { cause },
    );
    this.name = 'MigrationsPendingError';
  }
}

/**
 * Which migration files are not applied yet, asked read-only: a role without CREATE can
 * ask, and a fully migrated database costs no DDL at start.
 */
export async function pendingMigrations(db: Pick<pg.Pool, 'query'>, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await migrationFiles(dir);
  const { rows: exists } = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (!exists[0]?.t) return files;
  const { rows } = await db.query<{ name: string }>('SELECT name FROM schema_migrations WHERE name = ANY($1)', [files]);
  const done = new Set(rows.map((r) => r.name));
  return files.filter((f) => !done.has(f));
}

/**
 * Applies every `migrations/NNN_name.sql` not yet recorded, each in its own transaction,
 * under a session advisory lock so two replicas starting together apply each file once.
 * Needs the owner role: this is `firebreak migrate`, and what start does when it may.
 */
export async function migrate(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await migrationFiles(dir);
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(path.join(dir, file), 'utf8');
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`migration ${file} failed: ${(e as Error).message}`, { cause: e });
      }
      applied.push(file);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  return applied;
}

const isPrivilegeError = (e: unknown): boolean => {
  const code = ((e as { cause?: { code?: string } }).cause ?? (e as { code?: string }))?.code;
  return code === '42501' || code === '42P06' || /permission denied|must be owner/.test((e as Error)?.message ?? '');
};

/**
 * What start does: nothing at all (no DDL, no lock) when every migration is applied, so the
 * application can run as a role that only has the grants `firebreak migrate` gives it.
 * Otherwise it applies them if it may (the owner, e.g. a laptop with the embedded server),
 * and a role that may not gets MigrationsPendingError naming the command to run.
 */
export async function ensureMigrated(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const pending = await pendingMigrations(pool, dir);
  if (pending.length === 0) return [];
  try {
    return await migrate(pool, dir);
  } catch (e) {
    if (isPrivilegeError(e)) throw new MigrationsPendingError(pending, e);
    throw e;
  }
}

/**
 * The privileges the application role needs and no more, granted by `firebreak migrate`
 * after the migrations (so tables a migration adds are covered): read and write Firebreak's
 * state, but only append to the event log and only read its head and the migration record.
 */
export async function grantAppRole(pool: pg.Pool, role: string): Promise<void> {
  const r = pg.escapeIdentifier(role);
  const { rows } = await pool.query<{ ok: boolean }>('SELECT true AS ok FROM pg_roles WHERE rolname = $1', [role]);
  if (rows.length === 0) throw new Error(`role ${role} does not exist: create it first (CREATE ROLE ${role} LOGIN PASSWORD '...').`);
  const { rows: owner } = await pool.query<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'events' AND schemaname = 'public'`);
  if (owner[0]?.owner === role) throw new Error(`role ${role} owns the events table: the application role must not be the owner (it could disable the audit log's triggers).`);
  const db = pg.escapeIdentifier((await pool.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d);
  await pool.query(`GRANT CONNECT ON DATABASE ${db} TO ${r}`);
  await pool.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
  await pool.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`);
  await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${r}`);
  await pool.query(`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ${r}`);
  await pool.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
  // events: append and read only; events_head: read only (its trigger moves it as the owner).
  await pool.query('SELECT audit_restrict_role($1)', [role]);
  await pool.query(`REVOKE INSERT ON events_head FROM ${r}`);
}

/** True when every migration file has been applied: the startup probe's question. */
export async function migrationsApplied(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<boolean> {
  try {
    return (await pendingMigrations(pool, dir)).length === 0;
  } catch {
    return false;
  }
}
