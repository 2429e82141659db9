/**
 * The parts a chaos run owns and breaks: a throwaway PostgreSQL cluster (restartable with
 * `pg_ctl restart -m fast`), moto_server for S3, a self-signed certificate for the PagerDuty
 * proxy, and Firebreak replicas (the real src/main.ts) that can be killed and restarted.
 * Nothing here touches a server the run did not start.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../support/harness.js';
import { startMoto as startMotoServer } from '../../test/setup/global.js';

const asRoot = process.getuid?.() === 0;
const execFileAsync = promisify(execFile);

function pgBin(name: string): string {
  for (const v of ['15', '16', '17']) {
    const p = `/usr/lib/postgresql/${v}/bin/${name}`;
    if (existsSync(p)) return p;
  }
  return name;
}

/** Async on purpose: the fake Slack and the workload share this event loop while PostgreSQL restarts. */
async function runAsPostgres(cmd: string, args: string[]): Promise<void> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  try {
    await execFileAsync(file, argv, { encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(cmd)} ${args[0] ?? ''} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

export class PostgresCluster {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'firebreak-chaos-pg-'));
  private data = path.join(this.dir, 'data');
  port = 0;
  restarts = 0;

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  url(db: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  async start(): Promise<void> {
    chmodSync(this.dir, 0o777);
    this.port = await freePort();
    await runAsPostgres(pgBin('initdb'), ['-D', this.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await runAsPostgres(pgBin('pg_ctl'), ['-D', this.data, '-l', path.join(this.dir, 'log'), '-w', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, 'start']);
  }

  /** The fault: a fast restart drops every connection and aborts open transactions. */
  async restart(): Promise<void> {
    await runAsPostgres(pgBin('pg_ctl'), ['-D', this.data, '-l', path.join(this.dir, 'log'), '-w', '-m', 'fast', 'restart']);
    this.restarts++;
  }

  async stop(): Promise<void> {
    try {
      await runAsPostgres(pgBin('pg_ctl'), ['-D', this.data, '-m', 'immediate', 'stop']);
    } catch {
      /* already down */
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export async function startMoto(): Promise<{ endpoint: string; stop(): void }> {
  const { endpoint, proc } = await startMotoServer();
  return { endpoint, stop: () => void proc.kill() };
}

/** A self-signed certificate for 127.0.0.1 (the replicas trust it through NODE_EXTRA_CA_CERTS). */
export function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

export type ExitKind = 'killed' | 'terminated' | 'crashed';

/**
 * One Firebreak process. Exits the run caused (kill -9, SIGTERM) are expected; any other exit
 * is a crash and is kept with the end of the process's output.
 */
export class Replica {
  child?: ChildProcess;
  port = 0;
  private out = '';
  private expecting?: 'kill' | 'term';
  readonly exits: { kind: ExitKind; code: number | null; signal: string | null; tail: string }[] = [];
  starts = 0;

  constructor(
    readonly name: string,
    private env: Record<string, string>,
    /** When set, every line the process writes is appended here too (for a post-mortem). */
    private logFile?: string,
    /** What node runs: src/main.ts through tsx, or that same file bundled (see bundleMain). */
    private entry: string[] = ['--import', 'tsx', 'src/main.ts'],
  ) {}

  get up(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null && this.ready;
  }

  private ready = false;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.ready = false;
    this.expecting = undefined;
    this.out = '';
    const child = spawn(process.execPath, this.entry, {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/', ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    if (this.logFile) appendFileSync(this.logFile, `--- start ${this.starts} pid ${child.pid} at ${new Date().toISOString()}\n`);
    const keep = (d: Buffer) => {
      this.out = (this.out + d.toString()).slice(-20_000);
      if (this.logFile) appendFileSync(this.logFile, d);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      this.ready = false;
      const kind: ExitKind = this.expecting === 'kill' && signal === 'SIGKILL' ? 'killed' : this.expecting === 'term' && code === 0 ? 'terminated' : 'crashed';
      this.exits.push({ kind, code, signal, tail: this.out.slice(-3000) });
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.name} exited while starting: ${this.out.slice(-2000)}`);
      const live = await fetch(`${this.url}/health/live`).then((r) => r.ok, () => false);
      if (live) {
        this.ready = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} did not answer /health/live within ${timeoutMs} ms`);
  }

  /** kill -9: no shutdown, no drain. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.expecting = 'kill';
    this.ready = false;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  /** SIGTERM: the graceful path (stop intake, drain, exit 0). */
  async terminate(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.expecting = 'term';
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
    this.ready = false;
  }

  /** Children of this replica named `name` (pg_dump during a backup). */
  childPids(name: string): number[] {
    const pid = this.child?.pid;
    if (!pid) return [];
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
        if (m && m[1] === name && Number(m[2]) === pid) out.push(Number(entry));
      } catch {
        /* exited meanwhile */
      }
    }
    return out;
  }

  crashes(): { code: number | null; signal: string | null; tail: string }[] {
    return this.exits.filter((e) => e.kind === 'crashed');
  }
}

/**
 * src/main.ts bundled once with esbuild (packages stay external), so a restarted replica starts
 * in about a second instead of transpiling every source file again under tsx: on a busy
 * machine that transpile took ~10 s per restart and kept both replicas down for much of the
 * run. dist/chaos/ sits two levels under the checkout, where src/db/ sits, so paths the code
 * computes from import.meta.url (the migrations directory) resolve the same.
 */
export async function bundleMain(): Promise<string[]> {
  const { build } = await import('esbuild');
  const outfile = path.resolve('dist/chaos/main.mjs');
  await build({ entryPoints: ['src/main.ts'], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning' });
  return [outfile];
}
