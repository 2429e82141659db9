// The floor for a Node receiver that commits before it answers: node:http reads the body,
// JSON.parses it, turns each alert into the stored model (fingerprint included) and waits for
// Firebreak's own group-committed upsert (storeAlertBatches: one statement per event-loop turn's
// requests, the same SQL and indexes) before a small 200. No authentication, validation, routing,
// metrics or logging: what is left is what durability in PostgreSQL costs in Node at the least.
// bench/alerts runs it beside Firebreak, on its own database migrated like Firebreak's.
import http from 'node:http';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { storeAlertBatches } from '../../src/alerts/store.js';
import { fingerprintOf, parseEndsAt, type IncomingAlert } from '../../src/alerts/model.js';

interface Body {
  alerts: { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations?: Record<string, string>; startsAt: string; endsAt?: string; generatorURL?: string }[];
}

const pool = createPool(process.env.DATABASE_URL!, 4);
await migrate(pool);

let waiting: { alerts: IncomingAlert[]; done(err?: unknown): void }[] = [];
let writing = false;
function flush(): void {
  if (writing || waiting.length === 0) return;
  writing = true;
  const batch = waiting;
  waiting = [];
  storeAlertBatches(pool, batch.map((w) => w.alerts), new Date()).then(
    () => batch.forEach((w) => w.done()),
    (err: unknown) => batch.forEach((w) => w.done(err)),
  ).finally(() => {
    writing = false;
    flush();
  });
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body;
    const alerts: IncomingAlert[] = body.alerts.map((a) => ({
      source: 'alertmanager', fingerprint: fingerprintOf(a.labels), status: a.status, labels: a.labels, annotations: a.annotations ?? {},
      startsAt: new Date(a.startsAt), endsAt: parseEndsAt(a.endsAt), generatorUrl: a.generatorURL ?? null,
    }));
    waiting.push({
      alerts,
      done: (err) => {
        res.writeHead(err ? 503 : 200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(err ? { error: String(err) } : { status: 'accepted', alerts: alerts.length }));
      },
    });
    if (waiting.length === 1) setImmediate(flush);
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
