/** What the benchmarks share: ports, child processes, scratch databases and percentiles. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

export const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as net.AddressInfo;
    s.close(() => resolve(port));
  });
});

export interface Started {
  child: ChildProcess;
  out(): string;
}

/** Spawns `cmd args` with a minimal environment and resolves once `ready(output)` holds. */
export function startProcess(cmd: string, args: string[], env: Record<string, string>, ready: (out: string) => boolean | Promise<boolean>): Promise<Started> {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    const t = setInterval(async () => {
      if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`${cmd} ${args.join(' ')} exited: ${out}`));
      } else if (await ready(out)) {
        clearInterval(t);
        resolve({ child, out: () => out });
      }
    }, 50);
  });
}

/** A TypeScript entry point of this repository as its own process. */
export const startScript = (script: string, env: Record<string, string>, ready: (out: string) => boolean | Promise<boolean>): Promise<Started> =>
  startProcess(process.execPath, ['--import', 'tsx', script], env, ready);

export const stopProcess = (c: ChildProcess): Promise<void> => new Promise((r) => {
  if (c.exitCode !== null) return r();
  c.once('exit', () => r());
  c.kill('SIGTERM');
});

/** A fresh database on the server at `adminUrl`, dropped by `drop()`. */
export async function scratchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  return {
    url: databaseUrl(adminUrl, name),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The p-th percentile (nearest rank). */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** `adminUrl` pointed at database `name`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = '/' + name;
  return u.toString();
}

/** Runs one statement (CREATE/DROP DATABASE, ...) on its own connection. */
export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** moto_server (S3) on a free loopback port, resolved once it answers. */
export async function startMotoServer(): Promise<{ endpoint: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(endpoint + '/moto-api/').then(() => true, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { endpoint, proc };
}
