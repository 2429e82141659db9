/**
 * A realistic database to back up and restore in benchmarks: a mixed schema (text, jsonb,
 * numeric, timestamps, secondary indexes, a bytea table) whose custom-format dump compresses
 * about 3-5x with `zstd -3`. pgbench data compresses ~100x and has one big table, so it hides
 * both the compression/encryption cost and what `pg_restore -j` gains from several tables.
 *
 *   npx tsx bench/support/dataset.ts <database-url> <size-MiB>     (fills it, prints what it made)
 * DATASET_BASE_MIB (default 1024): how much is generated; the rest is copies of it under new keys.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';

const SCHEMA = `
CREATE TABLE customers (
  id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL, country char(2) NOT NULL,
  created_at timestamptz NOT NULL, balance numeric(14,2) NOT NULL, profile jsonb NOT NULL);
CREATE TABLE orders (
  id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL, total numeric(14,2) NOT NULL,
  placed_at timestamptz NOT NULL, items jsonb NOT NULL, notes text);
CREATE TABLE events (
  id bigint PRIMARY KEY, occurred_at timestamptz NOT NULL, kind text NOT NULL, source inet, payload jsonb NOT NULL);
CREATE TABLE attachments (
  id bigint PRIMARY KEY, order_id bigint NOT NULL, mime text NOT NULL, content bytea NOT NULL);
ALTER TABLE attachments ALTER COLUMN content SET STORAGE EXTERNAL;
CREATE TABLE words (i int PRIMARY KEY, w text NOT NULL);
INSERT INTO words SELECT i, substr(md5(i::text), 1, 3 + i % 8) FROM generate_series(0, 4095) i;
CREATE FUNCTION phrase(n int) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT string_agg(w, ' ') FROM (SELECT w FROM words WHERE i = ANY (ARRAY(SELECT (random() * 4095)::int FROM generate_series(1, n)))) x $$;
`;

/** One chunk of `n` rows per table starting at id `from`; about 4.5 KiB of heap per chunk row. */
const chunk = (from: number, n: number): string[] => {
  const ids = `generate_series(${from}, ${from + n - 1}) g`;
  return [
    `INSERT INTO customers SELECT g, 'user' || g || '@' || (ARRAY['example.com','mail.test','corp.example'])[1 + g % 3],
       phrase(3), (ARRAY['DE','FR','US','GB','JP','BR','IN','NL'])[1 + g % 8], now() - (random() * interval '900 days'),
       round((random() * 100000)::numeric, 2),
       jsonb_build_object('plan', (ARRAY['free','team','enterprise'])[1 + g % 3], 'tags', ARRAY[phrase(1), phrase(1)],
         'bio', phrase(12), 'score', random(), 'ref', md5(g::text)) FROM ${ids}`,
    `INSERT INTO orders SELECT g, 1 + (random() * ${from + n})::bigint, (ARRAY['placed','paid','shipped','refunded'])[1 + g % 4],
       round((random() * 2000)::numeric, 2), now() - (random() * interval '700 days'),
       jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (random() * 99999)::int, 'qty', 1 + g % 5, 'price', round((random() * 300)::numeric, 2)),
         jsonb_build_object('sku', 'SKU-' || (random() * 99999)::int, 'qty', 1, 'note', phrase(4))),
       CASE WHEN g % 3 = 0 THEN phrase(20) END FROM ${ids}`,
    `INSERT INTO events SELECT g, now() - (random() * interval '90 days'), (ARRAY['login','view','click','error','purchase'])[1 + g % 5],
       ('10.' || (g % 250) || '.' || (random() * 250)::int || '.' || (random() * 250)::int)::inet,
       jsonb_build_object('session', md5(random()::text), 'path', '/' || phrase(2), 'ua', 'Mozilla/5.0 (X11; Linux x86_64) bench/' || g % 40,
         'ms', (random() * 900)::int, 'msg', phrase(16)) FROM generate_series(${from * 2}, ${from * 2 + n * 2 - 1}) g`,
    // Every 4th order has an attachment: half of its bytes random (images, PDFs), half text-like.
    `INSERT INTO attachments SELECT g, g, (ARRAY['image/png','application/pdf','text/csv'])[1 + g % 3],
       gen_random_bytes(1024) || convert_to(repeat(phrase(30) || E'\\n', 4), 'UTF8')
       FROM generate_series(${from}, ${from + n - 1}) g WHERE g % 4 = 0`,
  ];
};

const BASE_MIB = Number(process.env.DATASET_BASE_MIB ?? 1024);

/** The `base` generated rows of each table again, under keys shifted by `off`. */
const copy = (base: number, off: number): string[] => [
  `INSERT INTO customers SELECT id + ${off}, 'k${off}.' || email, name, country, created_at, balance, profile FROM customers WHERE id <= ${base}`,
  `INSERT INTO orders SELECT id + ${off}, customer_id + ${off}, status, total, placed_at, items, notes FROM orders WHERE id <= ${base}`,
  `INSERT INTO events SELECT id + ${off * 2}, occurred_at, kind, source, payload FROM events WHERE id <= ${base * 2 + 1}`,
  `INSERT INTO attachments SELECT id + ${off}, order_id + ${off}, mime, content FROM attachments WHERE id <= ${base}`,
];

const INDEXES = [
  'CREATE UNIQUE INDEX ON customers (email)', 'CREATE INDEX ON customers (country, created_at)',
  'CREATE INDEX ON orders (customer_id)', 'CREATE INDEX ON orders (placed_at)',
  'CREATE INDEX ON events (occurred_at)', 'CREATE INDEX ON events (kind, occurred_at)',
  'CREATE INDEX ON attachments (order_id)',
];

export interface Dataset {
  bytes: number;
  rows: number;
}

/** Fills the empty database at `url` until it holds about `mib` MiB (tables and indexes). */
export async function createMixedDataset(url: string, mib: number, log: (s: string) => void = () => {}): Promise<Dataset> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pgcrypto');
    await c.query(SCHEMA);
    const size = async () => Number((await c.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]!.s);
    const start = await size();
    // Indexes add ~15% once built; load heap to ~85% of the target, then index.
    const heapTarget = start + mib * 1048576 * 0.85;
    const per = 20_000;
    let from = 1;
    // Generating rows costs ~6 s per 40 MiB here; beyond BASE_MIB the generated rows are copied
    // with new keys. A copy sits over 1 GiB away in the dump, far outside zstd -3's window, so
    // the archive compresses as the base does.
    const baseTarget = start + Math.min(mib, BASE_MIB) * 1048576 * 0.75;
    while ((await size()) < baseTarget) {
      for (const sql of chunk(from, per)) await c.query(sql);
      from += per;
      log(`dataset: ${Math.round((await size()) / 1048576)} MiB of ~${mib}`);
    }
    const base = from - 1;
    for (let k = 1; (await size()) < heapTarget; k++) {
      for (const sql of copy(base, k * base)) await c.query(sql);
      log(`dataset: ${Math.round((await size()) / 1048576)} MiB of ~${mib} (copy ${k})`);
    }
    for (const sql of INDEXES) await c.query(sql);
    await c.query('VACUUM ANALYZE');
    const rows = (await c.query<{ n: string }>(
      'SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders) + (SELECT count(*) FROM events) + (SELECT count(*) FROM attachments) AS n',
    )).rows[0]!.n;
    return { bytes: await size(), rows: Number(rows) };
  } finally {
    await c.end();
  }
}

if (process.argv[1]?.endsWith('dataset.ts') && process.argv[2]) {
  const [url, mib] = [process.argv[2], Number(process.argv[3] ?? 1024)];
  const t0 = Date.now();
  const d = await createMixedDataset(url, mib, (s) => process.stderr.write(s + '\n'));
  console.log(`${(d.bytes / 1048576).toFixed(0)} MiB, ${d.rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `pg_dump -Fc -Z0 '${url}' | tee >(wc -c >&2) | zstd -q -3 | wc -c`], { encoding: 'utf8' });
  console.log(`pg_dump -Fc -Z0 bytes: ${r.stderr.trim()}  | zstd -3 bytes: ${r.stdout.trim()}`);
}
