import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PitrConfig } from './config.js';
import type { PgBackRest } from './pgbackrest.js';
import { readRecovery, type ClusterAddress } from './store.js';

/**
 * A PostgreSQL cluster Firebreak starts from a restored data directory: a drill's scratch
 * cluster or `/dr execute`'s recovery target. It runs as the cluster's OS user, listens only on
 * a Unix socket next to its data directory, and gets pgBackRest's secrets in its environment
 * because its restore_command (archive-get) needs the repository cipher passphrase.
 */

/** A port nothing listens on now, for a scratch cluster's socket name and TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Paths we pass to pg_ctl's -o (which it runs through a shell) must be plain. */
const PLAIN_PATH = /^[A-Za-z0-9_./-]+$/;

export class RestoredCluster {
  private constructor(
    readonly dataDir: string,
    readonly socketDir: string,
    readonly port: number,
    private readonly cfg: PitrConfig,
    private readonly pgbr: PgBackRest,
  ) {}

  /** A new empty directory for a scratch cluster, owned by the cluster's OS user. */
  static async scratch(cfg: PitrConfig, pgbr: PgBackRest, name: string): Promise<RestoredCluster> {
    const root = cfg.scratchDir ?? path.join(cfg.workDir!, 'scratch');
    const dir = path.join(root, name);
    await mkdir(root, { recursive: true, mode: 0o700 });
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.join(dir, 'data'), { recursive: true, mode: 0o700 });
    const id = pgbr.identity;
    if (id) for (const d of [root, dir, path.join(dir, 'data')]) await chown(d, id.uid, id.gid);
    return new RestoredCluster(path.join(dir, 'data'), dir, await freePort(), cfg, pgbr);
  }

  /** The configured recovery target: `pitr.recoveryTarget.dataDir`, its socket beside it. */
  static async target(cfg: PitrConfig, pgbr: PgBackRest): Promise<RestoredCluster> {
    const dataDir = cfg.recoveryTarget.dataDir!;
    const parent = path.dirname(dataDir);
    const id = pgbr.identity;
    // The socket lives beside the data directory, so its parent must belong to the cluster's user too.
    if (!existsSync(parent)) {
      await mkdir(parent, { recursive: true, mode: 0o700 });
      if (id) await chown(parent, id.uid, id.gid);
    }
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (id) await chown(dataDir, id.uid, id.gid);
    return new RestoredCluster(dataDir, path.dirname(dataDir), cfg.recoveryTarget.port ?? (await freePort()), cfg, pgbr);
  }

  get address(): ClusterAddress {
    return { socketDir: this.socketDir, port: this.port, user: this.cfg.pg.user, database: this.cfg.pg.database };
  }

  /** Whether a postmaster is running on this data directory (postmaster.pid names a live process). */
  async running(): Promise<boolean> {
    const pidFile = path.join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return false;
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Starts it with pg_ctl; resolves once it accepts connections (it may still be replaying). */
  async start(signal?: AbortSignal): Promise<void> {
    if (![this.dataDir, this.socketDir].every((p) => PLAIN_PATH.test(p))) throw new Error(`cluster paths must be plain (letters, digits, _ . / -): ${this.dataDir}`);
    const opts = `-p ${this.port} -c listen_addresses='' -c unix_socket_directories=${this.socketDir}`;
    await this.pgCtl(['-D', this.dataDir, '-l', path.join(this.socketDir, 'postgres.log'), '-o', opts, '-w', '-t', '3600', 'start'], signal);
  }

  /**
   * Waits for recovery to finish and the cluster to be promoted (pg_is_in_recovery false).
   * Fails when the server stops meanwhile (recovery target not reached, WAL missing).
   */
  async waitPromoted(signal?: AbortSignal, timeoutMs = 3_600_000): Promise<{ lastReplayedAt: Date | null }> {
    const started = performance.now();
    for (;;) {
      signal?.throwIfAborted();
      try {
        const r = await readRecovery(this.address);
        if (!r.inRecovery) return { lastReplayedAt: r.lastReplayedAt };
      } catch (err) {
        if (!(await this.running())) throw new Error(`the restored cluster stopped during recovery: ${await this.logTail()}`, { cause: err });
      }
      if (performance.now() - started > timeoutMs) throw new Error(`recovery did not finish within ${Math.round(timeoutMs / 1000)} s`);
      await sleep(200, undefined, { signal });
    }
  }

  /** The end of the server log: why recovery stopped, for the person reading the thread. */
  async logTail(): Promise<string> {
    const log = await readFile(path.join(this.socketDir, 'postgres.log'), 'utf8').catch(() => '');
    const lines = log.split('\n').filter((l) => /FATAL|PANIC|ERROR/.test(l));
    return (lines.slice(-2).join(' | ') || 'see the server log').slice(0, 500);
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!(await this.running())) return;
    await this.pgCtl(['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  /** Stops it and removes its whole directory (scratch clusters only). */
  async drop(): Promise<void> {
    await this.stop('immediate').catch(() => {});
    await rm(this.socketDir, { recursive: true, force: true });
  }

  private pgCtl(args: string[], signal?: AbortSignal): Promise<void> {
    const id = this.pgbr.identity;
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(this.cfg.pgBinDir, 'pg_ctl'), args, {
        env: this.pgbr.childEnv(),
        cwd: this.socketDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(id ? { uid: id.uid, gid: id.gid } : {}),
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const abort = () => child.kill('SIGTERM');
      signal?.addEventListener('abort', abort, { once: true });
      child.on('error', reject);
      child.on('close', async (code) => {
        signal?.removeEventListener('abort', abort);
        if (code === 0) return resolve();
        reject(new Error(`pg_ctl ${args[args.length - 1]} failed (exit ${code}): ${out.trim().split('\n').pop() ?? ''} ${await this.logTail()}`));
      });
    });
  }
}

/** The restore arguments for a recovery point and repository. */
export function restoreArgs(target: { kind: 'time'; at: string } | { kind: 'latest' }, repo: number, dataDir: string, opts: { scratch: boolean; delta: boolean }): string[] {
  const args = [`--pg1-path=${dataDir}`, `--repo=${repo}`];
  if (target.kind === 'time') args.push('--type=time', `--target=${target.at}`, '--target-action=promote');
  else args.push('--type=default');
  // A scratch cluster must never push WAL into the repositories it was restored from.
  if (opts.scratch) args.push('--archive-mode=off');
  if (opts.delta) args.push('--delta');
  args.push('restore');
  return args;
}
