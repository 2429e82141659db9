/**
 * bench/dr: a DR dry run's RTO next to the same recovery done by hand, on the same archive, in
 * one run. It builds a realistic database (bench/support/dataset.ts: mixed schema, several
 * tables, compresses ~3x), takes one real backup with Firebreak's pipeline (pg_dump → zstd → age
 * → store), then alternates, ROUNDS times each (which side goes first alternates too):
 *
 *   manual:  the restore an operator would type, with the real binaries, timed whole:
 *              aws s3 cp s3://…/object - | age -d -i key | zstd -d -o archive   (local store: age -d -i key object | …)
 *              pg_restore -j2 --exit-on-error --no-owner -d <empty database> archive
 *            (pg_restore -j cannot read stdin, so the archive is a file; the empty database is
 *            created before the clock starts)
 *   drill:   Firebreak's dry run (src/dr/drill.ts), its RTO as the drill reports it (steps 3-8:
 *            fetch, verify, prepare, restore, post-restore, validate)
 *
 * and prints min/median/max of both, the ratio of medians next to the target (≤ 1.1), the
 * drill's per-step medians and the load average.
 *
 *   npx tsx bench/dr.ts [--mib 1024] [--rounds 5] [--store both|local|s3] [--late-counts]
 *
 * Each store gets its own backup of the same database and its own rounds: local keeps it in a
 * directory; s3 on a loopback moto_server, which the manual side fetches with Debian's awscli
 * (/usr/bin/aws, installed with `apt-get install -y awscli` if missing) in one GET
 * (multipart_threshold 64GB: its default ranged GETs are 2-6x slower against moto). Default: both.
 * --late-counts adds a third contender: the dry run counting rows only after pg_restore.
 * Env: FIREBREAK_BENCH_PG_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres);
 *      BENCH_DR_SOURCE=<database> backs up that existing database instead of generating one
 *      (for repeated development runs; it is left as it was).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { configSchema } from '../src/config/schema.js';
import { createPool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/log.js';
import { systemClock } from '../src/clock.js';
import { generateIdentity } from '../src/backups/age.js';
import { runBackup } from '../src/backups/pipeline.js';
import { backupsRestoreSource } from '../src/dr/backups-binding.js';
import { Drill } from '../src/dr/drill.js';
import { RTO_STEPS, type StepKey } from '../src/dr/model.js';
import { createMixedDataset } from './support/dataset.js';
import { adminQuery, databaseUrl, startMotoServer } from './support/harness.js';

const argv = process.argv.slice(2);
const flag = (name: string, d: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : d;
};
const ADMIN = process.env.FIREBREAK_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MIB = Number(flag('mib', '1024'));
const ROUNDS = Number(flag('rounds', process.env.BENCH_ROUNDS ?? '5'));
const STORE = flag('store', 'both');
const STORES = STORE === 'both' ? ['local', 's3'] : [STORE];
const JOBS = 2;
const AWS = '/usr/bin/aws';
const TARGET = 1.1;
const LATE = argv.includes('--late-counts');

const urlFor = (name: string): string => databaseUrl(ADMIN, name);
const admin = (sql: string): Promise<void> => adminQuery(ADMIN, sql);
const log = (s: string) => process.stderr.write(s + '\n');

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s.at(-1)! };
};
const secs = (ms: number) => (ms / 1000).toFixed(2) + ' s';

/** Runs `bash -o pipefail -c cmd`; rejects with its stderr when it fails. */
function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', cmd], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}: ${cmd}\n${err}`))));
  });
}
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** moto_server on a free loopback port with one bucket (as bench/backup.ts runs it). */
async function startMoto(): Promise<{ endpoint: string; bucket: string; proc: ChildProcess }> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const { endpoint, proc } = await startMotoServer();
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  process.env.AWS_REGION ??= 'us-east-1';
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  client.destroy();
  return { endpoint, bucket: 'bench', proc };
}

async function main(): Promise<void> {
  if (!['s3', 'local', 'both'].includes(STORE)) throw new Error('--store is local, s3 or both');
  if (STORES.includes('s3') && !existsSync(AWS)) {
    log('installing Debian awscli for the manual baseline…');
    if (spawnSync('apt-get', ['install', '-y', 'awscli'], { stdio: 'inherit' }).status !== 0) throw new Error('apt-get install -y awscli failed');
  }
  const tag = randomBytes(3).toString('hex');
  const stateDb = `fb_bench_state_${tag}`;
  const sourceDb = process.env.BENCH_DR_SOURCE ?? `fb_bench_src_${tag}`;
  const ownSource = !process.env.BENCH_DR_SOURCE;
  const work = await mkdtemp(path.join(os.tmpdir(), 'fb-bench-dr-'));
  const moto = STORES.includes('s3') ? await startMoto() : undefined;
  await admin(`CREATE DATABASE ${stateDb} TEMPLATE template0`);
  if (ownSource) await admin(`CREATE DATABASE ${sourceDb} TEMPLATE template0`);
  const pool = createPool(urlFor(stateDb), 5);
  const created: string[] = [];
  try {
    await migrate(pool);
    let dataset = `database ${sourceDb}`;
    if (ownSource) {
      const t0 = performance.now();
      const d = await createMixedDataset(urlFor(sourceDb), MIB, log);
      log(`dataset: ${(d.bytes / 2 ** 20).toFixed(0)} MiB, ${d.rows} rows in ${secs(performance.now() - t0)}`);
      dataset = `mixed dataset (bench/support/dataset.ts, --mib ${MIB}): ${(d.bytes / 2 ** 20).toFixed(0)} MiB on disk, ${d.rows} rows`;
    }

    const keys = generateIdentity();
    // The operator's key file, as `age -d -i` reads it.
    const keyFile = path.join(work, 'key.txt');
    await writeFile(keyFile, keys.identity + '\n', { mode: 0o600 });
    const silent = createLogger({ level: 'silent' });
    const results: string[] = [];

    for (const kind of STORES) {
      const storage = kind === 's3'
        ? { bucket: moto!.bucket, endpoint: moto!.endpoint, forcePathStyle: true, region: 'us-east-1' }
        : { localDir: path.join(work, 'store') };
      const config = configSchema.parse({
        databaseUrl: urlFor(stateDb), logLevel: 'silent', dataDir: work,
        backups: { storage, encryption: { recipient: keys.recipient, identity: keys.identity } },
        dr: { restoreJobs: JOBS, workDir: path.join(work, 'dr'), minFreeMiB: 1, schedule: { enabled: false } },
      });
      const ctx = { pool, config };

      // The backup, taken by the production pipeline; both sides restore the very object it stored.
      const tb = performance.now();
      const { record, error } = await runBackup({ ...ctx, clock: systemClock }, { name: sourceDb, url: urlFor(sourceDb) }, { tier: 'manual', requestedBy: 'bench' });
      if (error) throw new Error(`the backup failed at ${error.step}: ${error.message}`);
      log(`[${kind}] backup ${record.id} in ${secs(performance.now() - tb)}: archive ${(record.rawBytes! / 2 ** 20).toFixed(0)} MiB, stored ${(record.storedBytes! / 2 ** 20).toFixed(0)} MiB`);
      const tables = Object.keys(record.rowCounts ?? {}).length;

      const manualDir = path.join(work, 'manual');
      await mkdir(manualDir, { recursive: true });
      const archive = path.join(manualDir, 'archive.dump');
      const fetchCmd = kind === 's3'
        ? `${AWS} s3 cp ${q(`s3://${moto!.bucket}/${record.objectKey}`)} - --endpoint-url ${moto!.endpoint} --only-show-errors`
        : `cat ${q(path.join(work, 'store', record.objectKey))}`;
      const decryptCmd = `${fetchCmd} | age -d -i ${q(keyFile)} | zstd -d -q -f -o ${q(archive)}`;

      const source = backupsRestoreSource(ctx);
      const manual: number[] = [];
      const manualFetch: number[] = [];
      const manualRestore: number[] = [];
      const rto: number[] = [];
      const perStep = new Map<StepKey, number[]>(RTO_STEPS.map((k) => [k, []]));

      // One GET, as Firebreak does: awscli's default ranged GETs (8 MiB, 10 at a time) take
      // 2-6x longer against moto_server, which is moto's cost, not a manual restore's.
      const awsConfig = path.join(work, 'aws-config');
      await writeFile(awsConfig, '[default]\ns3 =\n  multipart_threshold = 64GB\n');
      const manualEnv = { ...process.env, AWS_CONFIG_FILE: awsConfig };
      const manualRound = async (r: number) => {
        const target = `fb_bench_manual_${tag}_${r}`;
        await admin(`CREATE DATABASE ${target} TEMPLATE template0`);
        created.push(target);
        const t0 = performance.now();
        await sh(decryptCmd, manualEnv);
        const t1 = performance.now();
        await sh(`pg_restore --exit-on-error --no-owner --jobs ${JOBS} --dbname ${q(urlFor(target))} ${q(archive)}`);
        const t2 = performance.now();
        manual.push(t2 - t0);
        manualFetch.push(t1 - t0);
        manualRestore.push(t2 - t1);
        await rm(archive, { force: true });
        await admin(`DROP DATABASE ${target} WITH (FORCE)`);
      };
      // --late-counts: a third contender, the drill counting every row after pg_restore (a
      // source without rowCounter), to show what counting during the restore gains or costs.
      const { rowCounter: _early, ...lateSource } = source;
      const late: number[] = [];
      const lateRestore: number[] = [];
      const lateRound = async () => {
        const out = await dryRun(lateSource);
        late.push(out.verdict.rtoMs!);
        lateRestore.push(out.steps.find((s) => s.key === 'restore')!.durationMs! + out.steps.find((s) => s.key === 'validate')!.durationMs!);
      };
      const dryRun = async (src: typeof source) => {
        const runId = 900_000_000 + Math.floor(Math.random() * 1e8);
        const drill = new Drill(
          { config: config.dr, clock: systemClock, log: silent, source: src, statePool: pool },
          { runId, kind: 'dry-run', backupId: record.id, serverUrl: ADMIN, workDir: config.dr.workDir!, targets: { rpoMs: 3_600_000, rtoMs: 14_400_000, stretchRpoMs: 300_000, stretchRtoMs: 3_600_000 } },
          new AbortController().signal,
          async () => {},
        );
        const out = await drill.run();
        if (out.status !== 'passed') throw new Error(`dry run did not pass: ${out.error}`);
        return out;
      };
      const drillRound = async (r: number) => {
        const out = await dryRun(source);
        rto.push(out.verdict.rtoMs!);
        for (const k of RTO_STEPS) perStep.get(k)!.push(out.steps.find((s) => s.key === k)!.durationMs ?? 0);
        if (r === 0) for (const s of out.steps) log(`  ${s.n}. ${s.title}: ${s.durationMs} ms · ${s.detail ?? ''}`);
      };

      const contenders: Array<(r: number) => Promise<void>> = [manualRound, drillRound, ...(LATE ? [lateRound] : [])];
      for (let r = 0; r < ROUNDS; r++) {
        // Rotate which goes first so page-cache warmth and background load fall on every side.
        for (let i = 0; i < contenders.length; i++) await contenders[(i + r) % contenders.length]!(r);
        const step = (k: StepKey) => secs(perStep.get(k)!.at(-1)!);
        log(`[${kind}] round ${r + 1}: manual ${secs(manual.at(-1)!)} (fetch+decrypt ${secs(manualFetch.at(-1)!)}, pg_restore ${secs(manualRestore.at(-1)!)}) · ` +
          `drill RTO ${secs(rto.at(-1)!)} (fetch+verify ${step('verify')}, prepare ${step('prepare')}, restore ${step('restore')}, validate ${step('validate')})`);
      }

      const m = stats(manual);
      const d = stats(rto);
      const row = (label: string, x: { min: number; median: number; max: number }) =>
        results.push(`${label.padEnd(46)}${secs(x.min).padStart(10)}${secs(x.median).padStart(10)}${secs(x.max).padStart(10)}`);
      results.push('');
      results.push(`store: ${kind === 's3' ? 'S3 (moto_server on loopback; manual fetch: /usr/bin/aws s3 cp, one GET)' : 'local directory (manual fetch: cat)'}; ` +
        `${tables} tables; archive ${(record.rawBytes! / 2 ** 20).toFixed(0)} MiB, stored ${(record.storedBytes! / 2 ** 20).toFixed(0)} MiB; ${ROUNDS} rounds, alternating`);
      results.push(`${''.padEnd(46)}${'min'.padStart(10)}${'median'.padStart(10)}${'max'.padStart(10)}`);
      row(`manual: fetch|age -d|zstd -d; pg_restore -j${JOBS}`, m);
      row('  of which fetch | age -d | zstd -d', stats(manualFetch));
      row(`  of which pg_restore -j${JOBS}`, stats(manualRestore));
      row('Firebreak dry run: RTO (steps 3-8, wall)', d);
      for (const k of RTO_STEPS) row(`  step ${k}`, stats(perStep.get(k)!));
      if (LATE) {
        row('dry run counting rows after pg_restore: RTO', stats(late));
        row('  its restore + validate steps', stats(lateRestore));
        results.push(`ratio counting during / after the restore (RTO medians): ${(d.median / stats(late).median).toFixed(3)}`);
      }
      results.push(`ratio RTO / manual (medians):  ${(d.median / m.median).toFixed(3)}  (target ≤ ${TARGET})  ${d.median / m.median <= TARGET ? 'met' : 'NOT met'}`);
      results.push(`ratio RTO / manual (minimums): ${(d.min / m.min).toFixed(3)}`);
    }
    console.log('');
    console.log(`bench/dr: ${dataset}; pg_restore -j${JOBS}; ${os.cpus().length} cores`);
    for (const line of results) console.log(line);
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await pool.end();
    for (const db of [...created, stateDb, ...(ownSource ? [sourceDb] : [])]) await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
    moto?.proc.kill();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
