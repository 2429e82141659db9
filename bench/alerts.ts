/**
 * bench/alerts: ingest throughput (alerts/s) and request latency of Firebreak's
 * POST /webhooks/alertmanager, next to the real Prometheus Alertmanager's own
 * POST /api/v2/alerts taking the same alerts, on the same machine, in the same run.
 * One run measures two request shapes, each over ROUNDS rounds alternating which side goes
 * first: batches of 100 alerts at concurrency 8 (what Alertmanager and Grafana send in a storm)
 * and single alerts at concurrency 50 (many small senders). Target: ratio of medians >= 1.0.
 *
 *   npx tsx bench/alerts.ts
 *
 * PostgreSQL: a dedicated embedded server started for the run (so other work on a shared server
 * does not land on Firebreak's side of the comparison), or the server at DATABASE_URL (an admin
 * URL; a scratch database is created and dropped).
 * Env: ROUNDS (default 5), SHAPES (default `100x8x20000,1x50x5000`: alerts per request ×
 *      requests in flight × alerts per round), CPU_PROF (a directory: profile Firebreak's
 *      process with --cpu-prof), SIDES (comma-separated subset of firebreak, alertmanager,
 *      node-floor, durable-floor; `firebreak` alone for profiling runs; default all four).
 *      FROM=src runs Firebreak from src/ through tsx instead of the build `npm start` runs.
 *      PERF_MAP=1 starts Firebreak with --perf-basic-prof, so `perf record -g -p <pid>` names its
 *      JavaScript frames: an on-CPU profile, where --cpu-prof counts wall time (a thread that
 *      lost the CPU inside a socket write is charged to the write).
 *
 * Firebreak answers only after the alerts are committed in PostgreSQL (routing and Slack follow
 * in the background, and that work runs during the measurement too); Alertmanager keeps alerts
 * in memory. Each server runs in its own process; this process only generates load, over
 * node:http keep-alive connections (cheaper per request than fetch, so the generator takes less
 * of the two cores from whichever side is measured). Besides alerts/s the table shows the CPU
 * each side spent per 1,000 alerts (Firebreak: its node process + PostgreSQL's processes), read
 * from /proc: that says whether a side is bound by CPU or by waiting. A third side, a bare
 * node:http server that only JSON.parses the body (bench/support/bare-http.ts), shows what Node's
 * HTTP stack alone reaches here: the floor under any Node receiver's per-request cost. A fourth,
 * the durable floor (bench/support/durable-floor.ts), is that server plus the one thing the target
 * demands beyond it: every request waits for Firebreak's own shared upsert to commit, on its own
 * database migrated like Firebreak's; no checks, no routing. Its ratio is the most any Node
 * receiver that commits to PostgreSQL before the 2xx can reach on this machine.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { createLogger } from '../src/log.js';
import { freePort, pct, startProcess, stopProcess } from './support/harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SHAPES = (process.env.SHAPES ?? '100x8x20000,1x50x5000').split(',').map((s) => {
  const [batch, concurrency, alerts] = s.split('x').map(Number);
  if (!batch || !concurrency || !alerts) throw new Error(`SHAPES entry ${s}: expected <batch>x<concurrency>x<alerts per round>`);
  return { batch, concurrency, alerts };
});
type Shape = (typeof SHAPES)[number];
const ONLY_FIREBREAK = process.env.SIDES === 'firebreak';
/** As `npm start` runs it: the build (made first when src/ changed); FROM=src runs src/ through tsx. */
const FIREBREAK_ENTRY = process.env.FROM === 'src' ? ['--import', 'tsx', 'src/main.ts'] : ['--enable-source-maps', 'dist/main.js'];
/** PG_STATS=1 (embedded server only): print where PostgreSQL spent its time, per statement (pg_stat_statements). */
const PG_STATS = process.env.PG_STATS === '1' && !process.env.DATABASE_URL;
const TOKEN = 'bench-alertmanager-token-0123';
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** `n` distinct alerts in 100 groups, new label values each call so both sides insert. */
function makeAlerts(n: number, round: string): Alert[] {
  const tag = randomBytes(3).toString('hex');
  const startsAt = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    labels: { alertname: `Bench${String(i % 100).padStart(3, '0')}`, instance: `host-${round}-${tag}-${i}`, severity: 'warning', job: 'bench' },
    annotations: { summary: `Bench alert ${i}`, runbook_url: 'https://runbooks.example/bench' },
    startsAt,
  }));
}

const firebreakBody = (batch: Alert[]) => JSON.stringify({
  version: '4', status: 'firing', receiver: 'firebreak', groupKey: '{}:{}', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am',
  alerts: batch.map((a) => ({ status: 'firing', ...a, endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus/graph' })),
});
const alertmanagerBody = (batch: Alert[]) => JSON.stringify(batch);

interface Side {
  name: string;
  url: URL;
  headers: Record<string, string>;
  body(batch: Alert[]): string;
  /** CPU milliseconds its processes have used so far: [server, its database]. */
  cpuMs(): [number, number];
  agent: http.Agent;
}

function post(side: Side, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(side.url, {
      method: 'POST', agent: side.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...side.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode} from ${side.name}: ${Buffer.concat(chunks).toString()}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends every body with `concurrency` requests in flight; wall time, per-request latencies, CPU used. */
async function load(side: Side, bodies: string[], concurrency: number): Promise<{ seconds: number; latencies: number[]; cpuMs: [number, number]; generatorMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = side.cpuMs();
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const s = performance.now();
      await post(side, body);
      latencies.push(performance.now() - s);
    }
  }));
  const cpu1 = side.cpuMs();
  const gen = process.cpuUsage(gen0);
  return { seconds: (performance.now() - t0) / 1000, latencies, cpuMs: [cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]], generatorMs: (gen.user + gen.system) / 1000 };
}

/** utime+stime (+ children that exited, when `withChildren`) of a process, in ms; 0 once it is gone. */
function procCpuMs(pid: number, withChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state, ppid, ... utime is field 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks * TICK_MS;
  } catch {
    return 0;
  }
}

/** The postmaster and every process it forked (backends, WAL writer, checkpointer...). */
function postgresCpuMs(postmaster: number): number {
  let ms = procCpuMs(postmaster, true);
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) ms += procCpuMs(Number(e));
    } catch {
      // gone between readdir and read
    }
  }
  return ms;
}

const median = (xs: number[]) => pct(xs, 50);

async function main() {
  const amBin = ['/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager'].find((b) => spawnSync(b, ['--version']).status === 0);
  if (!amBin) throw new Error('prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fb-bench-alerts-'));
  // As root, the embedded server runs as the postgres user, which must reach its directory.
  chmodSync(dir, 0o755);
  let embedded: EmbeddedDatabase | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const log = createLogger({ level: 'warn' });
    embedded = await startEmbeddedPostgres(path.join(dir, 'pg'), log);
    if (PG_STATS) {
      // pg_stat_statements must be preloaded: set it, then start the same cluster again.
      const c = new pg.Client({ connectionString: embedded.url });
      await c.connect();
      await c.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
      await c.end();
      await embedded.stop();
      embedded = await startEmbeddedPostgres(path.join(dir, 'pg'), log);
    }
    adminUrl = embedded.url;
  }
  const postmaster = embedded ? Number(readFileSync(path.join(embedded.dir, 'postmaster.pid'), 'utf8').split('\n')[0]) : undefined;
  const dbName = `fb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;

  if (process.env.FROM !== 'src' && spawnSync(process.execPath, ['scripts/build.js', '--if-stale'], { stdio: 'inherit' }).status !== 0) throw new Error('scripts/build.js failed');
  const slack = await startProcess(process.execPath, ['--import', 'tsx', 'bench/support/fake-slack-server.ts'], { CHANNELS: 'incidents,alerts' }, (o) => o.includes('/api/'));
  const slackUrl = slack.out().trim().split('\n')[0]!;
  const fbPort = await freePort();
  const fb = await startProcess(process.execPath, [...(process.env.CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF}`] : []), ...(process.env.PERF_MAP === '1' ? ['--perf-basic-prof'] : []), ...FIREBREAK_ENTRY], {
    SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_SIGNING_SECRET: 'bench-signing-secret-0123456789', SLACK_API_URL: slackUrl, LOG_LEVEL: 'warn',
    DATABASE_URL: u.toString(), PORT: String(fbPort), ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
  }, (o) => o.includes('serving Slack') || fetch(`http://127.0.0.1:${fbPort}/health/live`).then((r) => r.ok, () => false));
  const amPort = await freePort();
  // Alertmanager's own webhook target is unreachable on purpose: we measure its ingest only.
  writeFileSync(path.join(dir, 'am.yml'), `route:\n  receiver: sink\n  group_by: [alertname]\n  group_wait: 1h\nreceivers:\n- name: sink\n`);
  const am = await startProcess(amBin, [`--config.file=${path.join(dir, 'am.yml')}`, `--storage.path=${path.join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], {},
    () => fetch(`http://127.0.0.1:${amPort}/-/ready`).then((r) => r.ok, () => false));

  const maxSockets = Math.max(...SHAPES.map((s) => s.concurrency));
  const firebreak: Side = {
    name: 'firebreak', url: new URL(`http://127.0.0.1:${fbPort}/webhooks/alertmanager`), headers: { authorization: `Bearer ${TOKEN}` }, body: firebreakBody,
    cpuMs: () => [procCpuMs(fb.child.pid!), postmaster ? postgresCpuMs(postmaster) : 0], agent: new http.Agent({ keepAlive: true, maxSockets }),
  };
  const alertmanager: Side = {
    name: 'alertmanager', url: new URL(`http://127.0.0.1:${amPort}/api/v2/alerts`), headers: {}, body: alertmanagerBody,
    cpuMs: () => [procCpuMs(am.child.pid!), 0], agent: new http.Agent({ keepAlive: true, maxSockets }),
  };
  const floorPort = await freePort();
  const floorProc = await startProcess(process.execPath, ['--import', 'tsx', 'bench/support/bare-http.ts'], { PORT: String(floorPort) }, (o) => o.includes('ready'));
  const floor: Side = {
    name: 'node-floor', url: new URL(`http://127.0.0.1:${floorPort}/`), headers: {}, body: firebreakBody,
    cpuMs: () => [procCpuMs(floorProc.child.pid!), 0], agent: new http.Agent({ keepAlive: true, maxSockets }),
  };
  // The same floor plus what durability costs: each request waits for Firebreak's own shared
  // upsert on a database migrated like Firebreak's (bench/support/durable-floor.ts).
  const durableDb = `${dbName}_floor`;
  await admin.query(`CREATE DATABASE ${durableDb}`);
  const du = new URL(u);
  du.pathname = `/${durableDb}`;
  const durablePort = await freePort();
  const durableProc = await startProcess(process.execPath, ['--import', 'tsx', 'bench/support/durable-floor.ts'], { PORT: String(durablePort), DATABASE_URL: du.toString() }, (o) => o.includes('ready'));
  const durable: Side = {
    name: 'durable-floor', url: new URL(`http://127.0.0.1:${durablePort}/`), headers: {}, body: firebreakBody,
    cpuMs: () => [procCpuMs(durableProc.child.pid!), postmaster ? postgresCpuMs(postmaster) : 0], agent: new http.Agent({ keepAlive: true, maxSockets }),
  };
  const sides = ONLY_FIREBREAK ? [firebreak] : process.env.SIDES ? [firebreak, alertmanager, floor, durable].filter((s) => process.env.SIDES!.split(',').includes(s.name)) : [alertmanager, firebreak, floor, durable];
  const db = new pg.Client({ connectionString: u.toString() });
  await db.connect();
  await db.query('CREATE TABLE bench_commit_probe (at timestamptz NOT NULL)');
  if (PG_STATS) await db.query('CREATE EXTENSION pg_stat_statements');

  /**
   * Firebreak routes what it stored in the background, and under load it defers that work
   * (up to a second) behind intake: wait until every stored alert is routed before the other
   * side's turn, so that work never lands on Alertmanager's measurement. Returns how long
   * routing ran on after the last 200.
   */
  const routedAfter = async (): Promise<number> => {
    const t0 = performance.now();
    while ((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM alert_pending')).rows[0]!.n > 0) await new Promise((r) => setTimeout(r, 10));
    return performance.now() - t0;
  };
  /** What one commit costs on this server right now: sequential one-row autocommit INSERTs (p50, ms). */
  const commitMs = async (): Promise<number> => {
    const ts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await db.query('INSERT INTO bench_commit_probe VALUES (now())');
      ts.push(performance.now() - t);
    }
    return pct(ts, 50);
  };

  let sent = 0;
  const results: { shape: Shape; rate: Map<string, number[]>; lat: Map<string, number[]>; cpu: Map<string, [number, number, number][]>; routed: number[]; commit: number[] }[] = [];
  for (const shape of SHAPES) {
    const batches = (alerts: Alert[]) => Array.from({ length: Math.ceil(alerts.length / shape.batch) }, (_, i) => alerts.slice(i * shape.batch, (i + 1) * shape.batch));
    // Warm-up: connections, JIT, prepared statements.
    const warm = batches(makeAlerts(Math.min(shape.alerts, 2000), `warm${shape.batch}`));
    for (const side of sides) await load(side, warm.map(side.body), shape.concurrency);
    await routedAfter();
    if (PG_STATS) await db.query('SELECT pg_stat_statements_reset()');
    const routed: number[] = [];
    const commit: number[] = [];
    sent += Math.min(shape.alerts, 2000);
    const rate = new Map<string, number[]>(sides.map((s) => [s.name, []]));
    const lat = new Map<string, number[]>(sides.map((s) => [s.name, []]));
    const cpu = new Map<string, [number, number, number][]>(sides.map((s) => [s.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const bs = batches(makeAlerts(shape.alerts, `${shape.batch}-${r}`));
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
        const x = await load(side, bs.map(side.body), shape.concurrency);
        rate.get(side.name)!.push(shape.alerts / x.seconds);
        lat.get(side.name)!.push(...x.latencies);
        cpu.get(side.name)!.push([(x.cpuMs[0] / shape.alerts) * 1000, (x.cpuMs[1] / shape.alerts) * 1000, (x.generatorMs / shape.alerts) * 1000]);
        if (side === firebreak) {
          routed.push(await routedAfter());
          commit.push(await commitMs());
        }
      }
      sent += shape.alerts;
    }
    results.push({ shape, rate, lat, cpu, routed, commit });
    if (PG_STATS) {
      const { rows } = await db.query<{ q: string; calls: number; rows: number; total: number; mean: number }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q, calls::int, rows::int, total_exec_time AS total, mean_exec_time AS mean
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
          ORDER BY total_exec_time DESC LIMIT 10`);
      console.log(`pg_stat_statements, batch ${shape.batch} × conc ${shape.concurrency} (${ROUNDS} rounds of ${shape.alerts} alerts, Firebreak's database):`);
      for (const r of rows) console.log(`  ${r.total.toFixed(0).padStart(7)} ms  ${String(r.calls).padStart(6)} calls  ${String(r.rows).padStart(7)} rows  ${r.mean.toFixed(2).padStart(7)} ms/call  ${r.q}`);
    }
  }

  const stored = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts')).rows[0]!.n;
  await db.end();

  const n = (x: number, w = 8) => Math.round(x).toLocaleString('en-US').padStart(w);
  const ms = (x: number) => x.toFixed(1).padStart(6);
  console.log(`bench/alerts: ${ROUNDS} rounds per shape, alternating which side goes first; 100 alert groups; PostgreSQL ${embedded ? 'dedicated (embedded)' : 'DATABASE_URL'}; ${os.cpus().length} cores`);
  console.log('shape (alerts/req × in flight)  side                                  alerts/s min   median      max   p50 ms   p99 ms   CPU ms per 1k alerts (median of rounds)');
  for (const { shape, rate, lat, cpu, routed, commit } of results) {
    for (const side of [firebreak, alertmanager, floor, durable]) {
      const rs = rate.get(side.name);
      if (!rs) continue;
      const label = side === firebreak ? 'firebreak POST /webhooks/alertmanager' : side === alertmanager ? 'alertmanager POST /api/v2/alerts'
        : side === floor ? 'floor: bare node:http, JSON.parse only' : 'floor + the same shared upsert, no checks';
      const c = cpu.get(side.name)!;
      const server = median(c.map((x) => x[0]));
      const database = median(c.map((x) => x[1]));
      const generator = median(c.map((x) => x[2]));
      const what = (side === firebreak || side === durable ? (postmaster ? `${n(server + database, 5)} = node ${n(server, 3)} + PostgreSQL ${n(database, 3)}` : `${n(server, 5)} (node only)`) : n(server, 5))
        + `   (load generator ${n(generator, 3)})`;
      console.log(`${`batch ${shape.batch} × conc ${shape.concurrency}`.padEnd(31)}  ${label.padEnd(38)} ${n(Math.min(...rs))} ${n(median(rs))} ${n(Math.max(...rs))}   ${ms(pct(lat.get(side.name)!, 50))}   ${ms(pct(lat.get(side.name)!, 99))}   ${what}`);
    }
    if (routed.length > 0) console.log(`${''.padEnd(31)}  firebreak: routing done ${Math.round(median(routed))} ms (max ${Math.round(Math.max(...routed))}) after the last 200; one-row commit on its PostgreSQL p50 ${median(commit).toFixed(2)} ms (median of rounds)`);
    const am = rate.get('alertmanager');
    for (const side of [firebreak, durable]) {
      const rs = rate.get(side.name);
      if (!am || !rs) continue;
      const ratio = median(rs) / median(am);
      const per = rs.map((f, i) => f / am[i]!);
      const what = side === firebreak ? 'ratio firebreak/alertmanager (medians)' : 'durable floor/alertmanager (medians)  ';
      const verdict = side === firebreak ? `target >= 1.0: ${ratio >= 1 ? 'met' : 'NOT met'}` : 'what the least a Node receiver committing first reaches';
      console.log(`${''.padEnd(31)}  ${what}  ${ratio.toFixed(2)}   per round min ${Math.min(...per).toFixed(2)} max ${Math.max(...per).toFixed(2)}   ${verdict}`);
    }
  }
  console.log(`alerts stored by firebreak (each committed before its 200): ${stored} (expected ${sent})${stored === sent ? '' : '  MISMATCH'}`);
  console.log(`load average (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  await Promise.all([stopProcess(fb.child), stopProcess(am.child)]);
  await stopProcess(slack.child);
  await stopProcess(floorProc.child);
  await stopProcess(durableProc.child);
  for (const side of [firebreak, alertmanager, floor, durable]) side.agent.destroy();
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.query(`DROP DATABASE ${durableDb} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  rmSync(dir, { recursive: true, force: true });
  if (stored !== sent) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
