/**
 * bench/audit: what tamper evidence costs, each figure next to its baseline in the same run.
 *
 *   npx tsx bench/audit.ts        (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres; N=100000 rows)
 *
 * 1. Append: appendEvent (chain lock + hash + insert) with the events_head trigger (migration
 *    061) against the same appends with that trigger disabled: the price of detecting rows
 *    deleted from the end.
 * 2. Verify: verifyAuditLog over N rows against a plain read of the same rows in the same
 *    batches: the price of recomputing every hash.
 * Uses a scratch database it drops afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { appendEvent, eventHash, GENESIS_HASH } from '../src/events/log.js';
import { verifyAuditLog } from '../src/audit/verify.js';

const ADMIN = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.env.N ?? 100_000);
const APPENDS = Number(process.env.APPENDS ?? 2_000);
const ROUNDS = 3;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `min ${Math.min(...xs).toFixed(0)} / median ${median(xs).toFixed(0)} / max ${Math.max(...xs).toFixed(0)} ms`;

async function withScratch<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const name = `fb_bench_audit_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 4);
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function appends(pool: pg.Pool, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await appendEvent(pool, { type: 'change.approved', actor: 'U0BENCH', subject: `change:${i}`, payload: { i, kind: 'backup.restore' }, at: new Date() });
  }
  return ms(t0);
}

/** N chained rows written in bulk (hashes computed here, exactly as appendEvent would). */
async function fill(pool: pg.Pool, n: number): Promise<void> {
  let prev = (await pool.query<{ hash: string }>('SELECT hash FROM events ORDER BY id DESC LIMIT 1')).rows[0]?.hash ?? GENESIS_HASH;
  const start = (await pool.query<{ id: number }>("SELECT coalesce(max(id), 0)::bigint AS id FROM events")).rows[0]!.id;
  const batch = 2000;
  for (let b = 0; b < n; b += batch) {
    const values: unknown[] = [];
    const rows: string[] = [];
    for (let i = b; i < Math.min(n, b + batch); i++) {
      const e = { id: start + i + 1, at: new Date(Date.UTC(2026, 0, 1) + i * 1000), actor: 'U0BENCH', type: i % 3 ? 'change.approved' : 'backup.succeeded', incidentId: null, subject: `change:${i}`, payload: { i, kind: 'backup.restore', note: 'x'.repeat(64) } };
      const hash = eventHash(prev, e);
      const k = values.length;
      rows.push(`($${k + 1},$${k + 2},$${k + 3},$${k + 4},$${k + 5},$${k + 6},$${k + 7},$${k + 8})`);
      values.push(e.id, e.at, e.actor, e.type, e.subject, JSON.stringify(e.payload), prev, hash);
      prev = hash;
    }
    await pool.query(`INSERT INTO events (id, at, actor, type, subject, payload, prev_hash, hash) VALUES ${rows.join(',')}`, values);
  }
  await pool.query(`SELECT setval('events_id_seq', (SELECT max(id) FROM events))`);
}

async function plainRead(pool: pg.Pool): Promise<number> {
  const t0 = process.hrtime.bigint();
  let after = 0;
  for (;;) {
    const { rows } = await pool.query<{ id: number }>('SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT 5000', [after]);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
  }
  return ms(t0);
}

await withScratch(async (pool) => {
  const withHead: number[] = [];
  const withoutHead: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    withHead.push(await appends(pool, APPENDS));
    await pool.query('ALTER TABLE events DISABLE TRIGGER events_head_advance');
    withoutHead.push(await appends(pool, APPENDS));
    await pool.query('ALTER TABLE events ENABLE TRIGGER events_head_advance');
  }
  console.log(`append ${APPENDS} events, one transaction each (${ROUNDS} rounds, alternating):`);
  console.log(`  with events_head trigger    ${fmt(withHead)}  (${(APPENDS / (median(withHead) / 1000)).toFixed(0)} events/s)`);
  console.log(`  without (chain only)        ${fmt(withoutHead)}  (${(APPENDS / (median(withoutHead) / 1000)).toFixed(0)} events/s)`);
  console.log(`  ratio with/without          ${(median(withHead) / median(withoutHead)).toFixed(2)}x`);
});

await withScratch(async (pool) => {
  await fill(pool, N);
  const verify: number[] = [];
  const read: number[] = [];
  let checked = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    const v = await verifyAuditLog(pool);
    verify.push(ms(t0));
    if (!v.ok) throw new Error(`bench chain did not verify: ${JSON.stringify(v.firstBroken)}`);
    checked = v.checked;
    read.push(await plainRead(pool));
  }
  console.log(`verify ${checked} rows (${ROUNDS} rounds, alternating):`);
  console.log(`  verifyAuditLog              ${fmt(verify)}  (${(checked / (median(verify) / 1000)).toFixed(0)} rows/s)`);
  console.log(`  plain read, same batches    ${fmt(read)}`);
  console.log(`  ratio verify/read           ${(median(verify) / median(read)).toFixed(2)}x`);
});
