import { spawn, execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { childEnv } from '../child-env.js';
import type { PitrConfig } from './config.js';

/**
 * How Firebreak runs pgBackRest: it renders the pgbackrest.conf it runs with (no secret in it)
 * to a 0600 file, and hands the repository cipher passphrase and S3 keys to each child in its
 * environment (PGBACKREST_REPO<n>_CIPHER_PASS, ...), which pgBackRest reads and redacts. Nothing
 * secret is ever on argv or in Firebreak's logs, and the child gets only childEnv()'s minimal
 * environment plus those variables.
 */

/** The OS identity a child runs as: the cluster's owner when Firebreak runs as root. */
export interface RunAs {
  uid: number;
  gid: number;
  home: string;
}

/** Resolves `pitr.pg.osUser` when this process is root; undefined when it need not switch. */
export function runAsFor(cfg: PitrConfig): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = cfg.pg.osUser;
  if (user === 'root') return undefined;
  const line = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim();
  const [, , uid, gid, , home] = line.split(':');
  if (!uid || !gid) throw new Error(`pitr.pg.osUser ${user} is not a user on this host`);
  return { uid: Number(uid), gid: Number(gid), home: home || '/' };
}

export const confPath = (cfg: PitrConfig): string => path.join(cfg.workDir!, 'pgbackrest.conf');

/** The pgbackrest.conf text: repositories, retention, cipher type, the cluster. Never a secret. */
export function renderConf(cfg: PitrConfig): string {
  const work = cfg.workDir!;
  const g: string[] = [
    '# Rendered by Firebreak from its `pitr` config section; edits here are overwritten.',
    '# Secrets (cipher passphrase, S3 keys) are not in this file: Firebreak passes them in the environment.',
    '[global]',
    `lock-path=${path.join(work, 'lock')}`,
    `log-path=${path.join(work, 'log')}`,
    'log-level-file=off',
    'log-level-console=info',
    'start-fast=y',
    `process-max=${cfg.processMax}`,
    'compress-type=lz4',
    // Firebreak runs expire itself after each backup, so every expiry is audited.
    'expire-auto=n',
  ];
  cfg.repos.forEach((r, i) => {
    const n = i + 1;
    if ('path' in r) {
      g.push(`repo${n}-type=posix`, `repo${n}-path=${r.path}`);
    } else {
      g.push(
        `repo${n}-type=s3`, `repo${n}-path=${r.s3.path}`, `repo${n}-s3-bucket=${r.s3.bucket}`, `repo${n}-s3-endpoint=${r.s3.endpoint}`,
        `repo${n}-s3-region=${r.s3.region}`, `repo${n}-s3-uri-style=${r.s3.pathStyle ? 'path' : 'host'}`, `repo${n}-storage-verify-tls=${r.s3.verifyTls ? 'y' : 'n'}`,
      );
    }
    g.push(`repo${n}-retention-full=${cfg.retention.full}`, `repo${n}-retention-diff=${cfg.retention.diff}`);
    if (cfg.encryption.cipher !== 'none') g.push(`repo${n}-cipher-type=${cfg.encryption.cipher}`);
  });
  const s = [`[${cfg.stanza}]`, `pg1-path=${cfg.pg.dataDir}`, `pg1-port=${cfg.pg.port}`, `pg1-socket-path=${cfg.pg.socketDir}`, `pg1-user=${cfg.pg.user}`];
  return `${g.join('\n')}\n\n${s.join('\n')}\n`;
}

/** The secret part of the child's environment, by pgBackRest's own variable names. */
export function secretEnv(cfg: PitrConfig, from: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  cfg.repos.forEach((r, i) => {
    const n = i + 1;
    if (cfg.encryption.cipher !== 'none') env[`PGBACKREST_REPO${n}_CIPHER_PASS`] = cfg.encryption.passphrase;
    if ('s3' in r) {
      env[`PGBACKREST_REPO${n}_S3_KEY`] = from[r.s3.keyEnv];
      env[`PGBACKREST_REPO${n}_S3_KEY_SECRET`] = from[r.s3.secretEnv];
    }
  });
  return env;
}

/** Writes the work directory and the rendered conf (0600, owned by the run-as user), atomically. */
export async function writeConf(cfg: PitrConfig, runAs: RunAs | undefined): Promise<string> {
  const work = cfg.workDir!;
  for (const d of [work, path.join(work, 'lock'), path.join(work, 'log')]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    if (runAs) await chown(d, runAs.uid, runAs.gid);
  }
  const file = confPath(cfg);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, renderConf(cfg), { mode: 0o600 });
  await chmod(tmp, 0o600);
  if (runAs) await chown(tmp, runAs.uid, runAs.gid);
  await rename(tmp, file);
  return file;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class PgBackRestError extends Error {
  constructor(readonly command: string, readonly result: RunResult) {
    super(`pgbackrest ${command} failed (${result.signal ? `killed by ${result.signal}` : `exit ${result.code}`}): ${lastError(result)}`);
  }
}

/** pgBackRest's own error line (`ERROR: [055]: ...`), the most useful thing to show a person. */
function lastError(r: RunResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => /ERROR:|WARN:/.test(l));
  const line = lines.find((l) => /ERROR:/.test(l)) ?? lines[0] ?? r.stderr.trim().split('\n').pop() ?? '';
  return line.replace(/^.*?(ERROR|WARN): /, '$1: ').slice(0, 400) || 'no error output';
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Each console line as pgBackRest prints it (info level): the progress thread's phases. */
  onLine?: (line: string) => void;
}

/** Runs pgBackRest commands for one configuration. */
export class PgBackRest {
  constructor(
    private readonly cfg: PitrConfig,
    private readonly runAs: RunAs | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The environment for the child: minimal, plus the secrets pgBackRest reads from it. */
  childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return childEnv({ ...secretEnv(this.cfg, this.env), ...(this.runAs ? { HOME: this.runAs.home } : {}), ...extra }, this.env);
  }

  get identity(): RunAs | undefined {
    return this.runAs;
  }

  /** Runs `pgbackrest --config=… --stanza=… <args>`; resolves with the outcome, throws PgBackRestError on failure. */
  async run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.spawn(args, opts);
    if (r.code !== 0) throw new PgBackRestError(args.find((a) => !a.startsWith('--')) ?? args.join(' '), r);
    return r;
  }

  /** Like run(), but returns the result whatever the exit code. */
  spawn(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const argv = [`--config=${confPath(this.cfg)}`, `--stanza=${this.cfg.stanza}`, ...args];
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
      const child = spawn(this.cfg.pgbackrest, argv, {
        env: this.childEnv(),
        cwd: this.cfg.workDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      });
      let stdout = '';
      let stderr = '';
      let partial = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (!opts.onLine) return;
        const lines = (partial + d).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) opts.onLine(l);
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // SIGTERM lets pgBackRest release its lock and stop its worker processes itself.
      const abort = () => child.kill('SIGTERM');
      opts.signal?.addEventListener('abort', abort, { once: true });
      child.on('error', (err) => {
        opts.signal?.removeEventListener('abort', abort);
        reject(err);
      });
      // The exit code decides success; 'close' also waits for the pipes to drain.
      child.on('close', (code, signal) => {
        opts.signal?.removeEventListener('abort', abort);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }
}
