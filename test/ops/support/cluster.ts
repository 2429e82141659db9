/**
 * A throwaway PostgreSQL cluster the test may stop and start (never the shared server):
 * initdb/pg_ctl in a temp dir, as the `postgres` OS user when we are root (initdb refuses root).
 * TCP connections need the password, so a DATABASE_URL's password is really used.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../setup/global.js';

export interface Cluster {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  password: string;
  stop(): void;
  start(): void;
  destroy(): void;
}

function pgBin(name: string): string {
  for (const v of ['15', '16', '17']) {
    const p = `/usr/lib/postgresql/${v}/bin/${name}`;
    if (spawnSync('test', ['-x', p]).status === 0) return p;
  }
  return name;
}

export async function startCluster(password: string): Promise<Cluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fb-ops-pg-'));
  chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, password + '\n');
  chmodSync(pwfile, 0o644);
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync']);
  const start = () =>
    run(pgBin('pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  start();
  let running = true;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    password,
    stop: () => {
      run(pgBin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    start: () => {
      start();
      running = true;
    },
    destroy: () => {
      try {
        if (running) run(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
