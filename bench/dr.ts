/**
 * bench/dr: how much a DR dry run adds to the restore itself. One run takes a real backup with
 * the backups pipeline (pg_dump → zstd → age → local object store), then alternates, ROUNDS times each:
 *   - raw:     `pg_restore -j2 --exit-on-error --no-owner` of the same archive (decrypted once) into an empty database
 *   - dry run: the drill's step 6 (restore) measured inside a full ten-step dry run
 * (alternating which goes first) and prints min/median/max of each and the ratio of medians (target ≤ 1.1).
 *
 *   npx tsx bench/dr.ts [scale]     # pgbench scale, default 10 (~150 MB of data)
 * Env: FIREBREAK_BENCH_PG_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 *      BENCH_ROUNDS (default 5).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { configSchema } from '../src/config/schema.js';
import { createPool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/log.js';
import { systemClock } from '../src/clock.js';
import { generateIdentity } from '../src/backups/age.js';
import { runBackup } from '../src/backups/pipeline.js';
import { fetchBackupObject, verifyAndDecrypt } from '../src/backups/restore.js';
import { backupsRestoreSource } from '../src/dr/backups-binding.js';
import { Drill } from '../src/dr/drill.js';
import { adminQuery, databaseUrl } from './support/harness.js';
import { runToExit } from '../test/support/exec.js';

const ADMIN = process.env.FIREBREAK_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SCALE = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const JOBS = 2;

const urlFor = (name: string): string => databaseUrl(ADMIN, name);
const admin = (sql: string): Promise<void> => adminQuery(ADMIN, sql);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const secs = (ms: number) => (ms / 1000).toFixed(2) + ' s';

async function main(): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const stateDb = `fb_bench_state_${tag}`;
  const sourceDb = `fb_bench_src_${tag}`;
  const work = await mkdtemp(path.join(os.tmpdir(), 'fb-bench-dr-'));
  await admin(`CREATE DATABASE ${stateDb} TEMPLATE template0`);
  await admin(`CREATE DATABASE ${sourceDb} TEMPLATE template0`);
  const pool = createPool(urlFor(stateDb), 5);
  const created: string[] = [];
  try {
    await migrate(pool);
    console.log(`seeding pgbench scale ${SCALE} plus a second large table into ${sourceDb} ...`);
    await runToExit('pgbench', ['-i', '-q', '-s', String(SCALE), '--foreign-keys', urlFor(sourceDb)]);
    // A second big table so -j2 has two COPYs and two index builds to overlap.
    const c = new pg.Client({ connectionString: urlFor(sourceDb) });
    await c.connect();
    await c.query(`CREATE TABLE events AS SELECT g AS id, md5(g::text) AS payload, now() - g * interval '1 s' AS at FROM generate_series(1, ${SCALE * 50_000}) g;
                   ALTER TABLE events ADD PRIMARY KEY (id); CREATE INDEX events_at ON events (at);`);
    await c.end();

    const keys = generateIdentity();
    const config = configSchema.parse({
      databaseUrl: urlFor(stateDb), logLevel: 'silent', dataDir: work,
      backups: { storage: { localDir: path.join(work, 'store') }, encryption: { recipient: keys.recipient, identity: keys.identity } },
      dr: { restoreJobs: JOBS, workDir: path.join(work, 'dr'), minFreeMiB: 1, schedule: { enabled: false } },
    });
    const ctx = { pool, config };

    // The backup, taken by the production pipeline; the baseline restores the very archive it holds.
    const { record, error } = await runBackup({ ...ctx, clock: systemClock }, { name: sourceDb, url: urlFor(sourceDb) }, { tier: 'manual', requestedBy: 'bench' });
    if (error) throw new Error(`the backup failed at ${error.step}: ${error.message}`);
    const id = record.id;
    const raw = path.join(work, 'raw.dump');
    const fetched = path.join(work, 'stored.age');
    await fetchBackupObject(ctx, record, fetched);
    await verifyAndDecrypt(ctx, record, fetched, raw);
    await rm(fetched);
    console.log(`backup ${id}: archive ${((await stat(raw)).size / 2 ** 20).toFixed(0)} MiB, stored ${(record.storedBytes! / 2 ** 20).toFixed(0)} MiB`);

    const source = backupsRestoreSource(ctx);
    const log = createLogger({ level: 'silent' });
    const rawTimes: number[] = [];
    const drillRestore: number[] = [];
    const drillRto: number[] = [];
    const rawRestore = async (r: number) => {
      const target = `fb_bench_raw_${tag}_${r}`;
      await admin(`CREATE DATABASE ${target} TEMPLATE template0`);
      created.push(target);
      const t0 = performance.now();
      await runToExit('pg_restore', ['--exit-on-error', '--no-owner', '--jobs', String(JOBS), '--dbname', urlFor(target), raw]);
      rawTimes.push(performance.now() - t0);
      await admin(`DROP DATABASE ${target} WITH (FORCE)`);
    };
    const dryRun = async (r: number) => {
      const runId = 900_000_000 + Math.floor(Math.random() * 1e8);
      const drill = new Drill(
        { config: config.dr, clock: systemClock, log, source, statePool: pool },
        { runId, kind: 'dry-run', backupId: id, serverUrl: ADMIN, workDir: config.dr.workDir!, targets: { rpoMs: 3_600_000, rtoMs: 14_400_000, stretchRpoMs: 300_000, stretchRtoMs: 3_600_000 } },
        new AbortController().signal,
        async () => {},
      );
      const out = await drill.run();
      if (out.status !== 'passed') throw new Error(`dry run ${r + 1} did not pass: ${out.error}`);
      drillRestore.push(out.steps.find((s) => s.key === 'restore')!.durationMs!);
      drillRto.push(out.verdict.rtoMs!);
    };
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first so page-cache warmth and background load fall on both sides.
      if (r % 2 === 0) {
        await rawRestore(r);
        await dryRun(r);
      } else {
        await dryRun(r);
        await rawRestore(r);
      }
      console.log(`round ${r + 1}: raw pg_restore -j${JOBS} ${secs(rawTimes.at(-1)!)} · dry-run restore step ${secs(drillRestore.at(-1)!)} (RTO steps 3-8 ${secs(drillRto.at(-1)!)})`);
    }
    const a = stats(rawTimes);
    const b = stats(drillRestore);
    const c2 = stats(drillRto);
    console.log('');
    const row = (label: string, x: { min: number; median: number; max: number }) =>
      console.log(`${label.padEnd(26)}${secs(x.min).padEnd(10)}${secs(x.median).padEnd(10)}${secs(x.max)}`);
    console.log(`${''.padEnd(26)}${'min'.padEnd(10)}${'median'.padEnd(10)}max`);
    row(`raw pg_restore -j${JOBS}`, a);
    row('dry run, restore step', b);
    row('dry run, RTO (steps 3-8)', c2);
    console.log(`ratio restore step / raw (medians): ${(b.median / a.median).toFixed(3)}  (target ≤ 1.1)`);
    // Minimums are the least disturbed by other load on the machine.
    console.log(`ratio restore step / raw (minimums): ${(b.min / a.min).toFixed(3)}`);
    console.log(`ratio RTO / raw restore (medians):  ${(c2.median / a.median).toFixed(3)}  (fetch + decrypt + validate on top)`);
  } finally {
    await pool.end();
    for (const d of [...created, stateDb, sourceDb]) await admin(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

await main();
