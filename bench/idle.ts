/**
 * bench/idle: what the running program costs before and after a little work, started the old
 * way (TypeScript compiled at run time by tsx) and from the compiled build, side by side in one
 * run, alternating which goes first each round.
 *
 *   npm run bench:idle       (ROUNDS=5, SETTLE_MS=5000; DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)
 *
 * Each start is the local console (no Slack variables) on a scratch database, so nothing but
 * Firebreak itself is measured (the database is the shared server, not an embedded one). Per
 * start: time from spawn to the first 200 of GET /health/ready, RSS after SETTLE_MS of idling,
 * and RSS after a few requests (console page, session, state, two slash commands, /metrics,
 * /runbooks) and another settle. RSS is VmRSS from /proc, summed over the process and its
 * children: under tsx that includes esbuild's service process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, scratchDatabase } from './support/harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 5000);

interface Variant {
  name: string;
  args: string[];
}
// (a) what `npm start` ran before the build: tsx compiles src/ as it loads.
// (b) what `npm start` runs now: dist/ from scripts/build.js, with source maps for stack traces.
const VARIANTS: Variant[] = [
  { name: 'tsx src/main.ts', args: ['--import', 'tsx', 'src/main.ts'] },
  { name: 'node dist/main.js', args: ['--enable-source-maps', 'dist/main.js'] },
];
if (process.env.WITHOUT_SOURCE_MAPS) VARIANTS.push({ name: 'dist, no source maps', args: ['dist/main.js'] });

interface Sample {
  readyMs: number;
  idleMiB: number;
  idleMainMiB: number;
  workedMiB: number;
  processes: number;
}

/** VmRSS (KiB) of `pid`, or 0 once it is gone. */
function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** `pid` and every process below it (tsx's esbuild service, pg_dump, ...). */
function tree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may hold spaces).
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited while we listed it.
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of parent) if (p === out[i]) out.push(c);
  return out;
}

const treeMiB = (pid: number) => tree(pid).reduce((s, p) => s + rssKiB(p), 0) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A little of what a person does in the console, so lazily built state is counted too. */
async function work(base: string): Promise<void> {
  const page = await fetch(`${base}/console`);
  await page.arrayBuffer();
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  const info = (await (await fetch(`${base}/console/api/session`, { headers: { cookie } })).json()) as { csrf: string; csrfHeader: string };
  const headers = { cookie, [info.csrfHeader]: info.csrf, 'content-type': 'application/json' };
  for (const text of ['/incident help', '/backup list']) {
    const res = await fetch(`${base}/console/api/command`, { method: 'POST', headers, body: JSON.stringify({ user: 'alice', channel: 'ops', text }) });
    if (res.status !== 200) throw new Error(`${text}: HTTP ${res.status} ${await res.text()}`);
  }
  for (const p of ['/console/api/state?user=alice', '/console/console.js', '/console/emoji.json', '/metrics', '/runbooks', '/health/ready']) {
    for (let i = 0; i < 5; i++) await (await fetch(`${base}${p}`, { headers })).arrayBuffer();
  }
}

async function once(v: Variant, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, v.args, { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/', ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  try {
    let readyMs = 0;
    while (!readyMs) {
      if (child.exitCode !== null) throw new Error(`${v.name} exited ${child.exitCode}:\n${out}`);
      if (performance.now() - t0 > 120_000) throw new Error(`${v.name} not ready after 120 s:\n${out}`);
      const ok = await fetch(`${base}/health/ready`).then((r) => r.status === 200, () => false);
      if (ok) readyMs = performance.now() - t0;
      else await sleep(10);
    }
    await sleep(SETTLE_MS);
    const pid = child.pid!;
    const idleMiB = treeMiB(pid);
    const idleMainMiB = rssKiB(pid) / 1024;
    const processes = tree(pid).length;
    await work(base);
    await sleep(SETTLE_MS);
    const workedMiB = treeMiB(pid);
    const errors = out.split('\n').filter((l) => /"level":(50|60)/.test(l));
    if (errors.length) throw new Error(`${v.name} logged errors:\n${errors.join('\n')}`);
    return { readyMs, idleMiB, idleMainMiB, workedMiB, processes };
  } finally {
    await stop(child);
  }
}

async function main() {
  const scratch = await scratchDatabase(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fb-bench-idle-'));
  const env = { DATABASE_URL: scratch.url, FIREBREAK_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
  try {
    // The build `npm start` runs when src/ changed (here: always, to time it).
    const b0 = performance.now();
    const build = spawn(process.execPath, ['scripts/build.js'], { stdio: 'inherit' });
    const code = await new Promise<number | null>((r) => build.on('exit', r));
    if (code !== 0) throw new Error(`scripts/build.js exited ${code}`);
    const buildMs = performance.now() - b0;

    // One start of each, not counted: applies the migrations and fills tsx's transform cache,
    // so the rounds compare restarts of a deployed program, not a first start.
    for (const v of VARIANTS) await once(v, env);

    const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) samples.get(v.name)!.push(await once(v, env));
    }

    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const mmm = (xs: number[], digits = 0) => {
      const s = sorted(xs);
      return `${s[0]!.toFixed(digits)} / ${s[Math.floor(s.length / 2)]!.toFixed(digits)} / ${s[s.length - 1]!.toFixed(digits)}`;
    };
    const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
    console.log(`bench/idle: ${ROUNDS} rounds, alternating; console mode on a scratch database; settle ${SETTLE_MS} ms; min / median / max`);
    console.log(`build (node scripts/build.js, esbuild, ${readdirSync('src', { recursive: true }).filter((f) => String(f).endsWith('.ts')).length} files): ${buildMs.toFixed(0)} ms`);
    console.log(`${'variant'.padEnd(22)} ${'ready ms'.padEnd(20)} ${'idle RSS MiB'.padEnd(18)} ${'(main process)'.padEnd(18)} ${'after requests MiB'.padEnd(18)} processes`);
    for (const v of VARIANTS) {
      const s = samples.get(v.name)!;
      console.log(`${v.name.padEnd(22)} ${mmm(s.map((x) => x.readyMs)).padEnd(20)} ${mmm(s.map((x) => x.idleMiB)).padEnd(18)} ${mmm(s.map((x) => x.idleMainMiB)).padEnd(18)} ${mmm(s.map((x) => x.workedMiB)).padEnd(18)} ${s[0]!.processes}`);
    }
    // Ratios per round (same round, so the machine's load hits both), build / tsx.
    const [a, b] = [samples.get(VARIANTS[0]!.name)!, samples.get(VARIANTS[1]!.name)!];
    const ratio = (f: (x: Sample) => number) => a.map((x, i) => f(b[i]!) / f(x));
    console.log(`ratio build/tsx per round: ready ${mmm(ratio((x) => x.readyMs), 2)}; idle RSS ${mmm(ratio((x) => x.idleMiB), 2)}; after requests ${mmm(ratio((x) => x.workedMiB), 2)}`);
    const clearly = median(ratio((x) => x.idleMiB)) <= 0.9 || median(ratio((x) => x.readyMs)) <= 0.9;
    console.log(`target: start from the build if it is clearly leaner or faster (median ratio <= 0.90): ${clearly ? 'yes' : 'no'}`);
    console.log(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await scratch.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
