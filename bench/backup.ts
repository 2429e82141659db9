/**
 * bench/backup: `/backup now` (Firebreak's pipeline with its defaults: row counts, verification)
 * next to the same pipeline in shell, to the same store, on a realistic database, in one run:
 *
 *   shell, local:  pg_dump -Fc -Z0 | zstd -3 | age -r KEY > file
 *   shell, S3:     pg_dump -Fc -Z0 | zstd -3 | age -r KEY | aws s3 cp - s3://bench/…   (Debian's awscli 2, its defaults)
 *
 *   npx tsx bench/backup.ts [--sizes 1024,10240] [--stores local,s3] [--rounds 5] [--keep-datasets]
 *   npx tsx bench/backup.ts --sizes 1024,10240 --rounds 0 --keep-datasets    (only make the datasets)
 *
 * Each size is a generated mixed database (bench/support/dataset.ts: text, jsonb, numeric,
 * timestamps, indexes, a bytea table; its dump compresses ~3x with zstd -3), made once per run
 * and reused by every round (`fb_bench_mixed_<MiB>`; --keep-datasets leaves it for the next run,
 * which reuses it). Per size and store, rounds alternate which contender goes first. S3 is a
 * loopback moto_server shared by both, emptied after every backup.
 *
 * Firebreak's side runs in a child process (tsx, as `npm start` does) so its RSS is its own:
 * idle = RSS before the backup starts, peak = the process's maximum RSS. Its wall time is the
 * time until the backup has landed (`uploaded`: in the store, size checked), which is what the
 * shell pipeline does; "verified" is the time until the re-read verification, the row counts and
 * the manifest are done too and the backup counts as good.
 *
 * Needs PostgreSQL (FIREBREAK_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * pg_dump, zstd, /usr/bin/age, and for S3 moto_server and /usr/bin/aws (`apt-get install -y
 * awscli age`; not the pip aws-cli 1.x that pyenv may put first on PATH).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createMixedDataset } from './support/dataset.js';
import { adminQuery, databaseUrl, startMotoServer } from './support/harness.js';

const ADMIN = process.env.FIREBREAK_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AGE = '/usr/bin/age';
const AWS = '/usr/bin/aws';
const DATASET_MARK = 'fb-bench mixed dataset v1 complete';
const MiB = 1048576;

const urlFor = (name: string): string => databaseUrl(ADMIN, name);
const admin = (sql: string): Promise<void> => adminQuery(ADMIN, sql);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Runs a bash pipeline (pipefail) and returns its wall time in seconds. */
function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${cmd}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface ChildResult {
  /** Until the backup landed (status uploaded). */
  uploadedSeconds: number;
  /** Until it was verified (re-read, row counts, manifest). */
  verifiedSeconds: number;
  idleRssMiB: number;
  /** Maximum RSS until the backup landed, and over the whole run. */
  peakUploadRssMiB: number;
  peakRssMiB: number;
  rawBytes: number;
  storedBytes: number;
  error?: string;
}

interface S3Target {
  bucket: string;
  endpoint: string;
}

/** Runs one Firebreak backup in a fresh Node process (tsx, as `npm start`). */
function firebreakBackup(stateUrl: string, dbUrl: string, recipient: string, identity: string, store: string | S3Target, env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--child'], { stdio: ['pipe', 'pipe', 'inherit'], env });
    // Keys and URLs go through stdin, not argv.
    child.stdin.end(JSON.stringify({ stateUrl, dbUrl, recipient, identity, store }));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('close', (code) => {
      try {
        const r = JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
        if (r.error || code !== 0) reject(new Error(`firebreak backup failed: ${r.error ?? code}`));
        else resolve(r);
      } catch {
        reject(new Error(`child exited ${code}: ${out}`));
      }
    });
  });
}

async function child(): Promise<void> {
  let input = '';
  for await (const c of process.stdin) input += String(c);
  const { stateUrl, dbUrl, recipient, identity, store } = JSON.parse(input) as { stateUrl: string; dbUrl: string; recipient: string; identity: string; store: string | S3Target };
  const { configSchema } = await import('../src/config/schema.js');
  const { runBackup } = await import('../src/backups/pipeline.js');
  const { createPool } = await import('../src/db/pool.js');
  const { systemClock } = await import('../src/clock.js');
  const config = configSchema.parse({
    backups: {
      databases: [{ name: 'bench', url: dbUrl }],
      storage: typeof store === 'string' ? { localDir: store } : { bucket: store.bucket, endpoint: store.endpoint, forcePathStyle: true },
      encryption: { recipient, identity },
    },
  });
  const pool = createPool(stateUrl, 2);
  const maxRss = () => process.resourceUsage().maxRSS / 1024;
  const idleRssMiB = process.memoryUsage().rss / MiB;
  let uploadedSeconds = NaN;
  let peakUploadRssMiB = NaN;
  const t0 = process.hrtime.bigint();
  const out = await runBackup({ pool, config, clock: systemClock }, config.backups.databases[0]!, {
    tier: 'manual', requestedBy: 'bench', progressEveryMs: 3_600_000,
    onProgress: (p) => {
      if (p.uploadedMs === undefined || !Number.isNaN(uploadedSeconds)) return;
      uploadedSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      peakUploadRssMiB = maxRss();
    },
  });
  const verifiedSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await pool.end();
  const r: ChildResult = {
    uploadedSeconds, verifiedSeconds, idleRssMiB, peakUploadRssMiB, peakRssMiB: maxRss(),
    rawBytes: out.record.rawBytes ?? 0, storedBytes: out.record.storedBytes ?? 0,
    ...(out.error ? { error: `${out.error.step}: ${out.error.message}` } : {}),
  };
  process.stdout.write(JSON.stringify(r) + '\n');
}

/** moto_server on a free loopback port with one bucket; both contenders upload to it. */
async function startMoto(env: NodeJS.ProcessEnv): Promise<{ target: S3Target; empty(): Promise<number>; stop(): void }> {
  const { S3Client, CreateBucketCommand, ListObjectsV2Command, DeleteObjectCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  const { endpoint, proc } = await startMotoServer();
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
  const Bucket = 'bench';
  await client.send(new CreateBucketCommand({ Bucket }));
  return {
    target: { bucket: Bucket, endpoint },
    /** Deletes everything (moto keeps objects in memory); returns the bytes the largest object had. */
    empty: async () => {
      let largest = 0;
      const r = await client.send(new ListObjectsV2Command({ Bucket }));
      for (const o of r.Contents ?? []) {
        if (o.Key!.endsWith('.age')) largest = Math.max(largest, o.Size ?? 0);
        await client.send(new DeleteObjectCommand({ Bucket, Key: o.Key! }));
      }
      const u = await client.send(new ListMultipartUploadsCommand({ Bucket }));
      for (const x of u.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket, Key: x.Key!, UploadId: x.UploadId! }));
      return largest;
    },
    stop: () => void proc.kill(),
  };
}

/** The mixed dataset of `mib` MiB: reused when a complete one from an earlier run is there. */
async function dataset(mib: number): Promise<{ name: string; url: string; bytes: number; reused: boolean }> {
  const name = `fb_bench_mixed_${mib}`;
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    const { rows } = await c.query<{ mark: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`, [name],
    );
    if (rows[0]?.mark !== DATASET_MARK) {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${name}`);
      const t0 = Date.now();
      await createMixedDataset(urlFor(name), mib, (s) => log(`[${mib} MiB] ${s}`));
      await c.query(`COMMENT ON DATABASE ${name} IS '${DATASET_MARK}'`);
      log(`[${mib} MiB] dataset made in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    const bytes = Number((await c.query<{ s: string }>('SELECT pg_database_size($1)::text AS s', [name])).rows[0]!.s);
    return { name, url: urlFor(name), bytes, reused: rows[0]?.mark === DATASET_MARK };
  } finally {
    await c.end();
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length / 2;
  return { min: s[0]!, median: s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2, max: s.at(-1)! };
};
const mmm = (xs: number[], digits = 2) => {
  const { min, median, max } = stats(xs);
  return `${min.toFixed(digits)} / ${median.toFixed(digits)} / ${max.toFixed(digits)}`;
};

interface Cell {
  size: number;
  store: 'local' | 's3';
  dbBytes: number;
  shell: number[];
  shellBytes: number;
  fb: ChildResult[];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string, d: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1]! : d;
  };
  const sizes = flag('sizes', '1024').split(',').map(Number);
  const stores = flag('stores', 'local,s3').split(',') as ('local' | 's3')[];
  const rounds = Number(flag('rounds', '5'));
  const keep = argv.includes('--keep-datasets');
  for (const bin of [AGE, ...(stores.includes('s3') ? [AWS] : [])]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: apt-get install -y ${bin === AWS ? 'awscli' : 'age'}`);
  }

  const { generateIdentity } = await import('../src/backups/age.js');
  const keys = generateIdentity();
  // Credentials reach the aws and Firebreak children through their environment only.
  const s3Env: NodeJS.ProcessEnv = {
    ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1',
    // Debian's awscli with its defaults (8 MiB parts, 10 requests at once), not a profile's tuning.
    AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_PAGER: '',
  };
  const moto = stores.includes('s3') ? await startMoto(s3Env) : undefined;
  const tag = Date.now().toString(36);
  const stateDb = `fb_bench_state_${tag}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fb-bench-backup-'));
  await admin(`CREATE DATABASE ${stateDb}`);
  const { createPool } = await import('../src/db/pool.js');
  const { migrate } = await import('../src/db/migrate.js');
  const statePool = createPool(urlFor(stateDb), 2);
  await migrate(statePool);
  await statePool.end();

  const cells: Cell[] = [];
  const made: string[] = [];
  const tool = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}; ${tool('pg_dump', ['--version'])}; zstd ${tool('zstd', ['-V'])}; age ${tool(AGE, ['--version'])}${moto ? `; ${tool(AWS, ['--version'])}` : ''}`);
  try {
    for (const size of sizes) {
      const ds = await dataset(size);
      if (!ds.reused || !keep) made.push(ds.name);
      log(`[${size} MiB] ${ds.reused ? 'reusing' : 'made'} ${ds.name}: ${(ds.bytes / MiB).toFixed(0)} MiB on disk`);
      // Warm the page cache once so the first measured round is not penalised.
      if (rounds > 0) sh(`pg_dump -Fc -Z0 '${ds.url}' > /dev/null`);
      // --rounds 0 only makes the datasets (with --keep-datasets, for a later measured run).
      for (const store of rounds > 0 ? stores : []) {
        const cell: Cell = { size, store, dbBytes: ds.bytes, shell: [], shellBytes: 0, fb: [] };
        cells.push(cell);
        const localDir = path.join(work, 'store');
        const shellOnce = (round: number) => {
          fs.mkdirSync(localDir, { recursive: true });
          const dump = `pg_dump -Fc -Z0 '${ds.url}' | zstd -q -3 | ${AGE} -r ${keys.recipient}`;
          const file = path.join(localDir, `shell-${round}.dump.zst.age`);
          const seconds = store === 'local'
            ? sh(`${dump} > '${file}'`)
            // --cli-read-timeout 0: moto takes minutes to assemble a 3 GiB object; with the 60 s
            // default the CLI retries CompleteMultipartUpload and moto answers 500 (upload gone).
            : sh(`${dump} | ${AWS} s3 cp - s3://${moto!.target.bucket}/shell-${round}.dump.zst.age --endpoint-url ${moto!.target.endpoint} --only-show-errors --cli-read-timeout 0`, s3Env);
          if (store === 'local') cell.shellBytes = fs.statSync(file).size;
          cell.shell.push(seconds);
          log(`[${size} MiB ${store}] round ${round + 1} shell ${seconds.toFixed(2)} s`);
        };
        const fbOnce = async (round: number) => {
          const r = await firebreakBackup(urlFor(stateDb), ds.url, keys.recipient, keys.identity, store === 'local' ? localDir : moto!.target, store === 'local' ? process.env : s3Env);
          cell.fb.push(r);
          log(`[${size} MiB ${store}] round ${round + 1} firebreak uploaded ${r.uploadedSeconds.toFixed(2)} s, verified ${r.verifiedSeconds.toFixed(2)} s, RSS idle ${r.idleRssMiB.toFixed(0)} peak ${r.peakRssMiB.toFixed(0)} MiB`);
        };
        const clean = async () => {
          fs.rmSync(localDir, { recursive: true, force: true });
          if (moto) {
            const largest = await moto.empty();
            if (store === 's3' && largest) cell.shellBytes = Math.max(cell.shellBytes, largest);
          }
        };
        for (let round = 0; round < rounds; round++) {
          // Alternate who goes first: on a shared machine the order carries its own bias.
          for (const who of round % 2 === 0 ? ['shell', 'fb'] : ['fb', 'shell']) {
            if (who === 'shell') shellOnce(round);
            else await fbOnce(round);
            await clean();
          }
        }
      }
    }
  } finally {
    moto?.stop();
    await admin(`DROP DATABASE IF EXISTS ${stateDb} WITH (FORCE)`);
    if (!keep) for (const name of made) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    fs.rmSync(work, { recursive: true, force: true });
  }

  if (!cells.length) return;
  console.log('');
  console.log(`min / median / max over ${rounds} rounds per row, contenders alternating; wall times in seconds, RSS in MiB`);
  console.log(
    ['database', 'store', 'archive → stored', 'shell', 'firebreak uploaded', '× (≤ 1.05)', 'firebreak verified', 'idle RSS', 'peak RSS', 'peak − idle (≤ 64)'].join(' | '),
  );
  for (const c of cells) {
    const up = c.fb.map((r) => r.uploadedSeconds);
    const ratio = stats(up).median / stats(c.shell).median;
    const over = c.fb.map((r) => r.peakRssMiB - r.idleRssMiB);
    const first = c.fb[0]!;
    console.log(
      [
        `${(c.dbBytes / MiB).toFixed(0)} MiB`, c.store, `${(first.rawBytes / MiB).toFixed(0)} → ${(first.storedBytes / MiB).toFixed(0)} MiB (shell ${(c.shellBytes / MiB).toFixed(0)})`,
        mmm(c.shell), mmm(up), `${ratio.toFixed(3)} ${ratio <= 1.05 ? 'met' : 'NOT met'}`, mmm(c.fb.map((r) => r.verifiedSeconds)),
        mmm(c.fb.map((r) => r.idleRssMiB), 0), mmm(c.fb.map((r) => r.peakRssMiB), 0),
        `${mmm(over, 0)} ${Math.max(...over) <= 64 ? 'met' : 'NOT met'}`,
      ].join(' | '),
    );
  }
  console.log('');
  console.log('× = median Firebreak time to `uploaded` ÷ median shell pipeline time, same store. "verified" adds the re-read (decrypt, zstd -t, pg_restore --list), the exact row counts in the dump\'s snapshot and the manifest.');
  console.log(`peak − idle is the worst round (peak RSS of the whole run, verification included; until uploaded: ${mmm(cells.flatMap((c) => c.fb.map((r) => r.peakUploadRssMiB - r.idleRssMiB)), 0)} MiB over idle).`);
  console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

if (process.argv[2] === '--child') {
  await child().catch((err: unknown) => {
    process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n');
    process.exitCode = 1;
  });
} else {
  await main();
}
