#!/usr/bin/env node
/**
 * Compiles src/ to dist/ (one .js file per .ts file, with source maps), which `npm start` runs.
 *
 *   node scripts/build.js             always rebuild (`npm run build`)
 *   node scripts/build.js --if-stale  rebuild only when dist/ was not built from the sources as
 *                                     they are now (`npm start` runs this first; ~50 ms when fresh)
 *
 * Why compile ahead: running src/ through tsx keeps esbuild's service process and the loader's
 * transform caches alive for the life of the server; `npm run bench:idle` measures the
 * difference (README, Performance). The compiler is the esbuild that tsx already runs on every
 * start, so the output is the same per-file transform tsx applies at run time (types stripped,
 * no type check; `npm run typecheck` checks types) and a fresh clone builds in well under a
 * second. `tsc` would type-check too, but takes 15-35 s here, at every first start.
 *
 * Plain JavaScript so it runs before anything is compiled. Writes nothing on success, so the
 * log that follows stays JSON lines when stdout is a pipe.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(root, 'src');
const DIST = path.join(root, 'dist');
const STAMP = '.source-hash';
const LOCK = path.join(root, 'dist.lock');

// Through tsx, not a bare import: tsx is the declared dependency and esbuild is its own, so
// this finds the same esbuild wherever npm placed it.
const requireFromTsx = createRequire(import.meta.resolve('tsx'));
const esbuildVersion = requireFromTsx('esbuild/package.json').version;

/** Every file under `dir`, relative to it, sorted (so the hash does not depend on readdir order). */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

/**
 * What dist/ is built from: every file under src/ (names and contents, so an edit, a deletion
 * or a rename all count, whatever the mtimes say), the settings esbuild reads, this script
 * and esbuild's version.
 */
function sourceHash() {
  const h = createHash('sha256');
  for (const f of filesUnder(SRC)) h.update(`${f}\0`).update(readFileSync(path.join(SRC, f))).update('\0');
  for (const f of ['tsconfig.json', 'package.json', 'scripts/build.js']) h.update(`${f}\0`).update(readFileSync(path.join(root, f))).update('\0');
  return h.update(esbuildVersion).digest('hex');
}

const builtFrom = () => {
  try {
    return readFileSync(path.join(DIST, STAMP), 'utf8');
  } catch {
    return undefined;
  }
};

/** Two starts at once on a stale dist/ build once: mkdir is atomic; a lock older than a minute is a builder that died. */
async function withLock(fn) {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 60_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released between the mkdir and the stat: try again.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

async function build(hash) {
  // Loaded only to build: the check alone stays quick.
  const esbuild = requireFromTsx('esbuild');
  const tmp = path.join(root, `dist.building-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: filesUnder(SRC).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => path.join(SRC, f)),
    outbase: SRC,
    outdir: tmp,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Stack traces name src/*.ts lines, as they did under tsx (`npm start` passes --enable-source-maps).
    sourcemap: 'linked',
    // The maps only need to point at the lines; the sources are beside dist/ (src/), not in memory.
    sourcesContent: false,
    logLevel: 'error',
  });
  // esbuild's service process would otherwise keep this one alive.
  await esbuild.stop();
  writeFileSync(path.join(tmp, STAMP), hash);
  // Swapped in whole, so a process starting now sees the old tree or the new one, never half of each.
  const old = path.join(root, `dist.old-${process.pid}`);
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(tmp, DIST);
  rmSync(old, { recursive: true, force: true });
}

const ifStale = process.argv.includes('--if-stale');
try {
  const hash = sourceHash();
  if (!ifStale || builtFrom() !== hash) {
    await withLock(async () => {
      // Another start may have built these very sources while this one waited.
      const now = sourceHash();
      if (!ifStale || builtFrom() !== now) await build(now);
    });
  }
} catch (e) {
  console.error(`firebreak: cannot compile src/ to dist/: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
