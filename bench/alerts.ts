/**
 * bench/alerts: ingest throughput (alerts/s) and p99 request latency of Firebreak's
 * POST /webhooks/alertmanager, next to the real Prometheus Alertmanager's own
 * POST /api/v2/alerts taking the same alerts, on the same machine, in the same run,
 * alternating which goes first each round. Prints the ratio (target: >= 5,000 alerts/s, ratio >= 1).
 *
 *   npx tsx bench/alerts.ts
 * PostgreSQL: a dedicated embedded server started for the run (so other work on a shared server
 * does not land on Firebreak's side of the comparison), or the server at DATABASE_URL (an admin
 * URL; a scratch database is created and dropped).
 * Env: ROUNDS (default 5), ALERTS (per round, default 10000), BATCH (alerts per request,
 *      default 100), CONCURRENCY (requests in flight, default 8), CPU_PROF (a directory: profile
 *      Firebreak's process with --cpu-prof).
 *
 * Firebreak answers only after the alerts are stored in PostgreSQL (routing and Slack follow in
 * the background, and that work runs during the measurement too); Alertmanager keeps alerts in
 * memory. Each server runs in its own process; this process only generates load.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { createLogger } from '../src/log.js';
import { freePort, pct, startProcess, stopProcess } from './support/harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ALERTS = Number(process.env.ALERTS ?? 10_000);
const BATCH = Number(process.env.BATCH ?? 100);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const TOKEN = 'bench-alertmanager-token-0123';

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** ALERTS distinct alerts in 100 groups, new label values each round so both sides insert. */
function makeAlerts(round: number): Alert[] {
  const tag = randomBytes(3).toString('hex');
  const startsAt = new Date().toISOString();
  return Array.from({ length: ALERTS }, (_, i) => ({
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

/** Sends every batch with CONCURRENCY requests in flight; returns wall time and per-request latencies. */
async function load(url: string, bodies: string[], headers: Record<string, string>): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const s = performance.now();
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}`);
      latencies.push(performance.now() - s);
    }
  }));
  return { seconds: (performance.now() - t0) / 1000, latencies };
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
    embedded = await startEmbeddedPostgres(path.join(dir, 'pg'), createLogger({ level: 'warn' }));
    adminUrl = embedded.url;
  }
  const dbName = `fb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;

  const slack = await startProcess(process.execPath, ['--import', 'tsx', 'bench/support/fake-slack-server.ts'], { CHANNELS: 'incidents,alerts' }, (o) => o.includes('/api/'));
  const slackUrl = slack.out().trim().split('\n')[0]!;
  const fbPort = await freePort();
  const fb = await startProcess(process.execPath, [...(process.env.CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF}`] : []), '--import', 'tsx', 'src/main.ts'], {
    SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_SIGNING_SECRET: 'bench-signing-secret-0123456789', SLACK_API_URL: slackUrl, LOG_LEVEL: 'warn',
    DATABASE_URL: u.toString(), PORT: String(fbPort), ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
  }, (o) => o.includes('serving Slack') || fetch(`http://127.0.0.1:${fbPort}/health/live`).then((r) => r.ok, () => false));
  const amPort = await freePort();
  // Alertmanager's own webhook target is unreachable on purpose: we measure its ingest only.
  writeFileSync(path.join(dir, 'am.yml'), `route:\n  receiver: sink\n  group_by: [alertname]\n  group_wait: 1h\nreceivers:\n- name: sink\n`);
  const am = await startProcess(amBin, [`--config.file=${path.join(dir, 'am.yml')}`, `--storage.path=${path.join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], {},
    () => fetch(`http://127.0.0.1:${amPort}/-/ready`).then((r) => r.ok, () => false));

  const fbUrl = `http://127.0.0.1:${fbPort}/webhooks/alertmanager`;
  const amUrl = `http://127.0.0.1:${amPort}/api/v2/alerts`;
  const batches = (alerts: Alert[]) => Array.from({ length: Math.ceil(alerts.length / BATCH) }, (_, i) => alerts.slice(i * BATCH, (i + 1) * BATCH));

  // Warm-up: connections, JIT, prepared statements.
  const warm = batches(makeAlerts(-1).slice(0, BATCH * 20));
  await load(fbUrl, warm.map(firebreakBody), { authorization: `Bearer ${TOKEN}` });
  await load(amUrl, warm.map(alertmanagerBody), {});

  const fbRate: number[] = [];
  const amRate: number[] = [];
  const fbLat: number[] = [];
  const amLat: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const bs = batches(makeAlerts(r));
    const runFb = async () => {
      const x = await load(fbUrl, bs.map(firebreakBody), { authorization: `Bearer ${TOKEN}` });
      fbRate.push(ALERTS / x.seconds);
      fbLat.push(...x.latencies);
    };
    const runAm = async () => {
      const x = await load(amUrl, bs.map(alertmanagerBody), {});
      amRate.push(ALERTS / x.seconds);
      amLat.push(...x.latencies);
    };
    if (r % 2 === 0) {
      await runAm();
      await runFb();
    } else {
      await runFb();
      await runAm();
    }
  }

  const db = new pg.Client({ connectionString: u.toString() });
  await db.connect();
  const stored = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts')).rows[0]!.n;
  await db.end();

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(8);
  console.log(`bench/alerts: ${ROUNDS} rounds × ${ALERTS} alerts (100 groups), ${BATCH} per request, concurrency ${CONCURRENCY}, PostgreSQL ${embedded ? 'dedicated (embedded)' : 'DATABASE_URL'}`);
  console.log(`firebreak POST /webhooks/alertmanager  alerts/s median ${fmt(median(fbRate))} (min ${fmt(Math.min(...fbRate))})   p50 ${pct(fbLat, 50).toFixed(1).padStart(6)} ms   p99 ${pct(fbLat, 99).toFixed(1).padStart(6)} ms`);
  console.log(`alertmanager POST /api/v2/alerts       alerts/s median ${fmt(median(amRate))} (min ${fmt(Math.min(...amRate))})   p50 ${pct(amLat, 50).toFixed(1).padStart(6)} ms   p99 ${pct(amLat, 99).toFixed(1).padStart(6)} ms`);
  console.log(`ratio firebreak/alertmanager  throughput ${(median(fbRate) / median(amRate)).toFixed(2)}   p99 latency ${(pct(fbLat, 99) / pct(amLat, 99)).toFixed(2)}   (target: >= 5,000 alerts/s and throughput ratio >= 1)`);
  console.log(`alerts stored by firebreak: ${stored} (expected ${ALERTS * ROUNDS + BATCH * 20})`);

  await Promise.all([stopProcess(fb.child), stopProcess(am.child)]);
  await stopProcess(slack.child);
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
