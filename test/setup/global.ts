/**
 * Starts the real servers the suite needs, once per run:
 * - PostgreSQL: 127.0.0.1:5432 when it answers, otherwise a throwaway cluster made with
 *   initdb/pg_ctl in a temp dir (as the `postgres` OS user when we are root).
 * - An S3-compatible server: moto_server on a free loopback port.
 * Each test file then makes its own database (test/support/db.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    s3Endpoint: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

function pgBin(name: string): string {
  for (const dir of ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']) {
    if (spawnSync('test', ['-x', path.join(dir, name)]).status === 0) return path.join(dir, name);
  }
  return name;
}

/**
 * A PostgreSQL cluster of our own in a temp dir. Also used by tests that must restart the
 * server under Firebreak (test/ops/durable.test.ts): never do that to the shared 5432 one.
 */
export async function startThrowawayPostgres(): Promise<{ url: string; stop: () => void; restart: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'firebreak-pg-'));
  chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  run(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  run(pgBin('pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // Immediate: every connection drops at once, as in a crash or failover. Asynchronous, so
    // the caller's requests keep flowing while the server is down.
    restart: () =>
      new Promise<void>((resolve, reject) => {
        const args = [pgBin('pg_ctl'), '-D', data, '-l', path.join(dir, 'log'), '-w', '-m', 'immediate', 'restart'];
        const p = asRoot ? spawn('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'ignore' }) : spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}`))));
      }),
    stop: () => {
      try {
        run(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** moto_server on a free loopback port, once it answers (bench/chaos starts its own with this too). */
export async function startMoto(): Promise<{ endpoint: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error('moto_server exited at start; is moto installed (pip show moto)?');
    try {
      const r = await fetch(endpoint + '/moto-api/');
      if (r.status < 500) return { endpoint, proc };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  proc.kill();
  throw new Error('moto_server did not start within 30 s');
}

export default async function setup(project: TestProject) {
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  let stopPg: (() => void) | undefined;
  let pgUrl = local;
  // FIREBREAK_TEST_PG=throwaway forces the fresh-machine path even when 5432 answers.
  if (process.env.FIREBREAK_TEST_PG_URL) pgUrl = process.env.FIREBREAK_TEST_PG_URL;
  else if (process.env.FIREBREAK_TEST_PG === 'throwaway' || !(await canConnect(local))) {
    const started = await startThrowawayPostgres();
    pgUrl = started.url;
    stopPg = started.stop;
  }
  const moto = await startMoto();
  project.provide('pgAdminUrl', pgUrl);
  project.provide('s3Endpoint', moto.endpoint);
  return () => {
    moto.proc.kill();
    stopPg?.();
  };
}
