/**
 * Re-reading a stored backup: the check that turns "uploaded" into "verified". It streams the
 * object back from the store (bounded memory), checks size and SHA-256 against what the upload
 * measured and, when Firebreak holds the decryption identity, authenticates every chunk,
 * decompresses and has `pg_restore --list` read the archive.
 */
import { spawn } from 'node:child_process';
import { childEnv } from '../child-env.js';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '../storage/index.js';
import { AgeDecryptStream, AgeError, type AgeIdentity } from './age.js';
import { BackupIntegrityError, type Verification } from './model.js';
import { collectStderr, exitOf, pgBin } from './pgtools.js';
import { Meter, discard, sinkIntoStdin, tee } from './streams.js';

export interface ExpectedObject {
  id: string;
  objectKey: string;
  sha256: string;
  storedBytes: number;
  /** Uncompressed archive size; checked when the archive is decrypted. */
  rawBytes?: number | null;
}

export async function checkStoredObject(
  store: ObjectStore,
  expect: ExpectedObject,
  identity: AgeIdentity | undefined,
  opts: { signal?: AbortSignal; pgBinDir?: string } = {},
): Promise<Verification> {
  const head = await store.head(expect.objectKey);
  if (!head) throw new BackupIntegrityError(`backup ${expect.id}: object ${expect.objectKey} is missing from ${store.location}`, expect.id);
  if (head.size !== expect.storedBytes) {
    throw new BackupIntegrityError(`backup ${expect.id}: object ${expect.objectKey} has ${head.size} bytes, the manifest says ${expect.storedBytes}`, expect.id);
  }
  const body = await store.get(expect.objectKey, { signal: opts.signal });
  const stored = new Meter({ sha256: true });
  let verification: Verification;
  if (!identity) {
    await pipeline(body, stored, discard(), { signal: opts.signal });
    verification = { checksum: true, archive: 'skipped: no identity' };
  } else {
    verification = await readArchive(body, stored, identity, expect, opts);
  }
  const sha = stored.sha256();
  if (stored.bytes !== expect.storedBytes) {
    throw new BackupIntegrityError(`backup ${expect.id}: read back ${stored.bytes} bytes, the upload wrote ${expect.storedBytes}`, expect.id);
  }
  if (sha !== expect.sha256) {
    throw new BackupIntegrityError(`checksum mismatch for backup ${expect.id}: stored object SHA-256 ${sha}, upload measured ${expect.sha256}`, expect.id);
  }
  return verification;
}

/**
 * Decrypts the stored stream (authenticating every chunk) and hands the compressed archive to
 * two zstd processes: `zstd -t` decompresses all of it and checks its checksum and size
 * without writing anything, and a `zstd -d` feeds `pg_restore --list` directly, which reads the
 * archive's table of contents and stops. The uncompressed archive (3-5x the stored bytes) never
 * passes through Node, which keeps the check's memory and CPU to those of the stored bytes.
 */
async function readArchive(
  body: NodeJS.ReadableStream,
  stored: Meter,
  identity: AgeIdentity,
  expect: ExpectedObject,
  opts: { signal?: AbortSignal; pgBinDir?: string },
): Promise<Verification> {
  const test = spawn('zstd', ['-t', '-v', '--no-progress'], { env: childEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  const toc = spawn('zstd', ['-d', '-q', '-c'], { env: childEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
  const restore = spawn(pgBin(opts.pgBinDir, 'pg_restore'), ['--list'], { env: childEnv(), stdio: [toc.stdout, 'pipe', 'pipe'] });
  // pg_restore alone holds the read end, so the TOC zstd gets EPIPE once pg_restore has read enough.
  toc.stdout.destroy();
  const testErr = collectStderr(test);
  const restoreErr = collectStderr(restore);
  const testExit = exitOf(test);
  const tocExit = exitOf(toc);
  const restoreExit = exitOf(restore);
  let list = '';
  restore.stdout.setEncoding('utf8').on('data', (s: string) => {
    // Only TABLE DATA lines are counted; keep memory bounded on huge schemas.
    for (const line of s.split('\n')) if (/ TABLE DATA /.test(line)) list += 'x';
  });
  const kill = () => {
    for (const c of [test, toc, restore]) c.kill('SIGKILL');
  };
  try {
    await pipeline(body, stored, new AgeDecryptStream(identity), tee(test.stdin, sinkIntoStdin(toc.stdin)), { signal: opts.signal });
  } catch (err) {
    kill();
    await Promise.all([testExit, tocExit, restoreExit]);
    if (err instanceof AgeError) {
      const why = err.reason === 'no-matching-identity' ? `wrong key: ${err.message}` : err.message;
      throw new BackupIntegrityError(`backup ${expect.id} failed decryption: ${why}`, expect.id);
    }
    throw err;
  }
  const z = await testExit;
  if (z.code !== 0) throw new BackupIntegrityError(`backup ${expect.id}: zstd could not decompress it (exit ${z.code ?? z.signal}): ${testErr()}`, expect.id);
  const r = await restoreExit;
  // The TOC zstd's own exit is not checked: it is meant to die of EPIPE, and zstd -t checked every byte.
  await tocExit;
  if (r.code !== 0) throw new BackupIntegrityError(`backup ${expect.id}: pg_restore --list rejected the archive (exit ${r.code ?? r.signal}): ${restoreErr()}`, expect.id);
  const raw = zstdTestedBytes(testErr());
  if (expect.rawBytes != null && raw !== undefined && raw !== expect.rawBytes) {
    throw new BackupIntegrityError(`backup ${expect.id}: archive decompresses to ${raw} bytes, pg_dump wrote ${expect.rawBytes}`, expect.id);
  }
  return { checksum: true, archive: true, tables: list.length };
}

/** The decompressed size `zstd -t -v` reports (`/*stdin*\ : 1049835271 bytes`); undefined if it does not. */
export function zstdTestedBytes(stderr: string): number | undefined {
  const m = /: (\d+) bytes\s*$/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}
