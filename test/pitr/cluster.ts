/**
 * A throwaway PostgreSQL 15 cluster for PITR tests, started the way an operator would: initdb
 * and pg_ctl as the `postgres` OS user (when the tests run as root), a Unix socket in its own
 * directory, a free port, and WAL archiving through pgBackRest into directory repositories.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/pitr/cluster.js';
import { pitrConfigSchema, type PitrConfig } from '../../src/pitr/config.js';
import { confPath, secretEnv } from '../../src/pitr/pgbackrest.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PASSPHRASE = 'test-cipher-passphrase-0123456789abcdef';

export interface TestCluster {
  root: string;
  config: PitrConfig;
  port: number;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): void;
  /** Stops the cluster and removes every file of the test. */
  destroy(): void;
}

function asPostgres(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const [, , uid, gid] = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function own(p: string): void {
  const id = asPostgres();
  if (id.uid !== undefined) chownSync(p, id.uid, id.gid!);
}

export async function startCluster(opts: { stanza: string; repos?: number; archiveCommand?: string; cipher?: boolean; extra?: Record<string, unknown> }): Promise<TestCluster> {
  const root = mkdtempSync(`/tmp/fb-pitr-${opts.stanza}-`);
  chmodSync(root, 0o755);
  own(root);
  const port = await freePort();
  const repos = Array.from({ length: opts.repos ?? 1 }, (_v, i) => {
    const p = path.join(root, `repo${i + 1}`);
    mkdirSync(p, { mode: 0o750 });
    own(p);
    return { path: p };
  });
  const config = pitrConfigSchema.parse({
    enabled: true,
    stanza: opts.stanza,
    pg: { dataDir: path.join(root, 'data'), port, socketDir: root, user: 'postgres', osUser: 'postgres' },
    repos,
    encryption: opts.cipher === false ? { cipher: 'none' } : { cipher: 'aes-256-cbc', passphrase: PASSPHRASE },
    workDir: path.join(root, 'work'),
    pgBinDir: PG_BIN,
    processMax: 1,
    ...opts.extra,
  });
  const id = asPostgres();
  const env = { ...process.env, ...secretEnv(config) } as NodeJS.ProcessEnv;
  const run = (bin: string, args: string[]) => {
    const r = spawnSync(path.join(PG_BIN, bin), args, { ...id, env, cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', config.pg.dataDir!, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const archive = opts.archiveCommand ?? `pgbackrest --config=${confPath(config)} --stanza=${opts.stanza} archive-push %p`;
  appendFileSync(path.join(config.pg.dataDir!, 'postgresql.conf'), [
    `port = ${port}`, "listen_addresses = ''", `unix_socket_directories = '${root}'`, 'wal_level = replica', 'archive_mode = on',
    `archive_command = '${archive}'`, 'archive_timeout = 60', 'fsync = off', 'shared_buffers = 32MB', 'max_wal_size = 256MB', '',
  ].join('\n'));
  // The server's environment carries the cipher passphrase for archive-push, as README says to do.
  run('pg_ctl', ['-D', config.pg.dataDir!, '-l', path.join(root, 'postgres.log'), '-w', 'start']);
  const query = async <T extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
    const c = new pg.Client({ host: root, port, user: 'postgres', database: 'postgres' });
    await c.connect();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  const stop = () => {
    spawnSync(path.join(PG_BIN, 'pg_ctl'), ['-D', config.pg.dataDir!, '-m', 'immediate', '-w', 'stop'], { ...id, env, cwd: root, encoding: 'utf8' });
  };
  return {
    root, config, port, query, stop,
    destroy: () => {
      stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Waits (polling pg_stat_archiver) until WAL up to now is archived: a commit, a switch, then the archiver catching up. */
export async function archiveNow(c: TestCluster): Promise<void> {
  await c.query('SELECT txid_current()');
  const wal = (await c.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal'))[0]!.wal;
  for (let i = 0; i < 600; i++) {
    const [a] = await c.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver');
    if (a?.w && a.w.slice(0, 24) >= wal) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`WAL ${wal} was not archived within 60 s`);
}

export function pgIdentity(): { uid?: number; gid?: number } {
  return asPostgres();
}
