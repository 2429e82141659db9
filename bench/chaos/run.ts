/**
 * One chaos run: two Firebreak replicas on one PostgreSQL, S3 (moto), fake Slack and fake
 * PagerDuty behind fault proxies; a seeded workload; faults at seeded times; then quiesce and
 * check the invariants. `runChaos` returns the figures; bench/chaos.ts prints them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { NOT_RECORDED } from '../../src/slack/listeners.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { FakeSlack, buttonValueOf } from '../../test/support/fake-slack.js';
import { APPROVE_ACTION } from '../../src/templates/approvals.js';
import { generateIdentity } from '../../src/backups/age.js';
import { FaultProxy, type ProxyFault } from './proxy.js';
import { FakePagerDuty } from './fake-pagerduty.js';
import { PostgresCluster, Replica, bundleMain, selfSignedCert, startMoto } from './infra.js';
import { planFaults, rng, type PlannedFault, type ChaosSize, SIZES } from './schedule.js';
import { checkInvariants, type InvariantResult, type Ledger } from './invariants.js';

export interface ChaosOptions {
  seed: number;
  size: 'default' | 'short';
  log?: (line: string) => void;
}

export interface ChaosResult {
  seed: number;
  size: string;
  durationMs: number;
  faults: Record<string, number>;
  operations: Record<string, number>;
  invariants: InvariantResult[];
  crashes: string[];
  passed: boolean;
  schedule: PlannedFault[];
}

const SECRET = 'chaos-signing-secret-0123456789';
const AM_TOKEN = 'chaos-alertmanager-token';
const PD_WEBHOOK_SECRET = 'chaos-pd-webhook-secret';
const REQUESTER = 'U0CHAOSREQ';
const APPROVERS = ['U0CHAOSAPPA', 'U0CHAOSAPPB'];
const TEAM = 'T0CHAOS';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signedHeaders(body: string, contentType: string, extra: Record<string, string> = {}): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  const sig = 'v0=' + createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex');
  return { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig, ...extra };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const size: ChaosSize = SIZES[opts.size];
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const random = rng(opts.seed ^ 0x5eed);
  const schedule = planFaults(opts.seed, size);
  const work = mkdtempSync(path.join(tmpdir(), 'firebreak-chaos-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  const faults: Record<string, number> = {};
  const countFault = (k: string, n = 1) => (faults[k] = (faults[k] ?? 0) + n);
  const ops: Record<string, number> = {};
  const countOp = (k: string) => (ops[k] = (ops[k] ?? 0) + 1);
  const ledger: Ledger = { declares: [], notes: [], alerts: [], pdWebhooks: [], drDryRuns: [], clicks: 0 };

  // The S3 SDK reads credentials from the environment only (moto accepts any).
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  try {
    // --- the parts -------------------------------------------------------------------------
    const cluster = new PostgresCluster();
    cleanups.push(() => cluster.stop());
    const [moto, entry] = await Promise.all([
      startMoto(),
      bundleMain(),
      (async () => {
        await cluster.start();
        const admin = new pg.Client({ connectionString: cluster.adminUrl });
        await admin.connect();
        await admin.query('CREATE DATABASE firebreak');
        await admin.query('CREATE DATABASE app');
        await admin.end();
        await seedAppDatabase(cluster.url('app'), size.appDataMiB);
      })(),
    ]);
    cleanups.push(() => moto.stop());
    const bucket = `chaos-${randomBytes(4).toString('hex')}`;
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const slack = await new FakeSlack().start();
    cleanups.push(() => slack.stop());
    for (const name of ['incidents', 'ops', 'approvals', 'alerts', 'general']) slack.addChannel(name);
    const pd = await new FakePagerDuty().start();
    cleanups.push(() => pd.stop());

    const cert = selfSignedCert(work);
    const slackProxy = await new FaultProxy({
      name: 'slack', target: slack.url.replace(/\/api\/$/, ''), stallMs: 4000, latencyMs: 1200,
      errorBody: (s) => ({ contentType: 'application/json', body: JSON.stringify({ ok: false, error: s === 429 ? 'ratelimited' : 'internal_error' }) }),
    }).start();
    const pdProxy = await new FaultProxy({
      name: 'pagerduty', target: pd.url, tls: cert, stallMs: 4000, latencyMs: 1200,
      errorBody: (s) => ({ contentType: 'application/json', body: JSON.stringify({ status: s === 429 ? 'throttle event' : 'error', message: `injected ${s}` }) }),
    }).start();
    const s3Proxy = await new FaultProxy({
      name: 's3', target: moto.endpoint, latencyMs: 800,
      errorBody: (s) => ({ contentType: 'application/xml', body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${s === 503 ? 'SlowDown' : 'InternalError'}</Code><Message>injected</Message></Error>` }),
    }).start();
    cleanups.push(() => slackProxy.stop(), () => pdProxy.stop(), () => s3Proxy.stop());

    const age = generateIdentity();
    const configFile = path.join(work, 'firebreak.yml');
    writeFileSync(configFile, JSON.stringify(firebreakConfig({ slackApi: `${slackProxy.url}/api/`, pdHost: `127.0.0.1:${pdProxy.port}`, s3: s3Proxy.url, bucket, appUrl: cluster.url('app'), recipient: age.recipient, size })));
    const env: Record<string, string> = {
      FIREBREAK_CONFIG: configFile,
      DATABASE_URL: cluster.url('firebreak'),
      SLACK_BOT_TOKEN: 'xoxb-chaos-token',
      SLACK_SIGNING_SECRET: SECRET,
      PAGERDUTY_ROUTING_KEY: 'chaos-routing-key-0001',
      PAGERDUTY_WEBHOOK_SECRETS: PD_WEBHOOK_SECRET,
      ALERTMANAGER_WEBHOOK_TOKEN: AM_TOKEN,
      FIREBREAK_BACKUP_IDENTITY: age.identity,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      NODE_EXTRA_CA_CERTS: cert.certFile,
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    };
    // CHAOS_LOG_DIR keeps what a failed run needs for a post-mortem: each replica's output, the
    // ledger, and a dump of the state database taken after the invariants were checked.
    const logDir = process.env.CHAOS_LOG_DIR;
    if (logDir) mkdirSync(logDir, { recursive: true });
    const replicas = ['replica-a', 'replica-b'].map((name) => new Replica(name, env, logDir ? path.join(logDir, `${name}.log`) : undefined, entry));
    // Both start together: migrations run under an advisory lock, so one applies them.
    log(`chaos: PostgreSQL, moto and fakes up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await Promise.all(replicas.map((r) => r.start(120_000)));
    cleanups.push(async () => {
      for (const r of replicas) await r.kill();
    });
    const state = new pg.Pool({ connectionString: cluster.url('firebreak'), max: 4 });
    state.on('error', () => {});
    cleanups.push(() => state.end());
    log(`chaos: seed ${opts.seed}, ${opts.size} run, parts up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // --- HTTP to the replicas, as Slack / Alertmanager / PagerDuty send it ---------------------
    const live = () => replicas.filter((r) => r.up);
    const pick = (prefer?: number): Replica | undefined => {
      const l = live();
      if (l.length === 0) return undefined;
      return prefer !== undefined ? (l.find((r) => r === replicas[prefer % 2]) ?? l[0]) : l[Math.floor(random() * l.length)];
    };
    const post = async (r: Replica | undefined, p: string, body: string, headers: Record<string, string>, timeoutMs = 3000): Promise<number> => {
      if (!r) return 0;
      try {
        const res = await fetch(`${r.url}${p}`, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
        const text = await res.text();
        if (res.status >= 500) countOp(`(HTTP ${res.status} answers)`);
        // A slash command PostgreSQL could not take is answered 200 with this apology: the person
        // was told nothing was done, so it is a refusal, not an acknowledgement.
        if (text.includes(NOT_RECORDED)) {
          countOp('(refused: "could not record", person told)');
          return 0;
        }
        return res.status;
      } catch {
        countOp('(requests not answered: replica down or > 3 s)');
        return 0; // refused, reset or no answer within Slack's 3 s: not acknowledged
      }
    };
    const slashLog: { command: string; text: string; o: { user?: string; channel?: string; triggerId: string; responseId?: string }; acked: () => boolean }[] = [];
    const slash = (r: Replica | undefined, command: string, text: string, o: { user?: string; channel?: string; triggerId?: string; retryNum?: number; responseId?: string }) => {
      const body = new URLSearchParams({
        token: 'legacy', team_id: TEAM, team_domain: 'chaos', channel_id: o.channel ?? slack.channel('general')!.id, channel_name: 'general',
        user_id: o.user ?? REQUESTER, user_name: 'chaos', command, text, api_app_id: 'A0CHAOS',
        response_url: slack.responseUrl(o.responseId ?? randomBytes(4).toString('hex')), trigger_id: o.triggerId ?? `trig-${randomBytes(6).toString('hex')}`,
      }).toString();
      const extra: Record<string, string> = o.retryNum ? { 'x-slack-retry-num': String(o.retryNum), 'x-slack-retry-reason': 'http_timeout' } : {};
      return post(r, '/slack/events', body, signedHeaders(body, 'application/x-www-form-urlencoded', extra));
    };
    /**
     * Delivery with retries: no 2xx within 3 s → the same request (same trigger) is sent again,
     * to whichever replica answers, backing off like Slack's own retries (shortened): 13-23 s
     * in all, so a request whose write landed after its answer is found and acknowledged.
     */
    const RETRY_PAUSES_MS = size.retryPausesMs;
    const deliverSlash = async (command: string, text: string, o: { user?: string; channel?: string; extraRetry?: boolean; responseId?: string }) => {
      const triggerId = `trig-${randomBytes(6).toString('hex')}`;
      let acked = false;
      slashLog.push({ command, text, o: { ...o, triggerId }, acked: () => acked });
      for (let attempt = 0; attempt <= RETRY_PAUSES_MS.length && !acked; attempt++) {
        if (attempt > 0) await sleep(RETRY_PAUSES_MS[attempt - 1]!);
        const st = await slash(pick(), command, text, { ...o, triggerId, retryNum: attempt });
        acked = st >= 200 && st < 300;
      }
      if (acked && o.extraRetry) {
        // Slack also retries when our ack was slow though it did arrive: the same request again.
        countOp('slack_retry_after_ack');
        await slash(pick(), command, text, { ...o, triggerId, retryNum: 1 });
      }
      return acked;
    };
    const click = async (r: Replica | undefined, value: string, user: string, actionTs: string, channel: string, messageTs: string) => {
      const payload = {
        type: 'block_actions', team: { id: TEAM }, user: { id: user, username: user.toLowerCase() }, api_app_id: 'A0CHAOS',
        trigger_id: `trig-${randomBytes(6).toString('hex')}`, response_url: slack.responseUrl(randomBytes(4).toString('hex')),
        channel: { id: channel }, container: { type: 'message', message_ts: messageTs, channel_id: channel }, message: { ts: messageTs },
        actions: [{ type: 'button', action_id: APPROVE_ACTION, block_id: 'b', value, action_ts: actionTs }],
      };
      const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
      return post(r, '/slack/events', body, signedHeaders(body, 'application/x-www-form-urlencoded'));
    };

    // --- the workload -----------------------------------------------------------------------
    let n = 0;
    const openIncidents: { id: number; channel: string; user: string; title: string }[] = [];
    const triggeredPages: { dedupKey: string; pdId: string }[] = [];
    const clickedChanges = new Set<string>();
    const refresh = async () => {
      try {
        const { rows } = await state.query<{ id: number; channel_id: string; declared_by: string; title: string }>(
          "SELECT id, channel_id, declared_by, title FROM incidents WHERE channel_id IS NOT NULL AND status <> 'resolved' ORDER BY id DESC LIMIT 40");
        openIncidents.splice(0, openIncidents.length, ...rows.map((r) => ({ id: r.id, channel: r.channel_id, user: r.declared_by, title: r.title })));
        const p = await state.query<{ dedup_key: string }>("SELECT dedup_key FROM pages WHERE status = 'triggered' ORDER BY id DESC LIMIT 40");
        triggeredPages.splice(0, triggeredPages.length, ...p.rows.map((x) => ({ dedupKey: x.dedup_key, pdId: `PCH${createHmac('sha1', 'k').update(x.dedup_key).digest('hex').slice(0, 8).toUpperCase()}` })));
      } catch (e) {
        if (!/terminat|ECONNREFUSED|shutting down|starting up/i.test((e as Error).message)) log(`refresh: ${(e as Error).message}`);
      }
    };

    const declare = async () => {
      const i = ++n;
      const title = `chaos op ${i} z`;
      const sev = ['P1', 'P2', 'P3', 'P4'][Math.floor(random() * 4)]!;
      const rec = { title, acked: false };
      ledger.declares.push(rec);
      countOp('declare');
      rec.acked = await deliverSlash('/incident', `declare ${sev} ${title}`, { user: `U0CHDECL${i % 7}`, extraRetry: random() < 0.15 });
    };
    const incidentCommand = async () => {
      const inc = openIncidents[Math.floor(random() * openIncidents.length)];
      if (!inc) return declare();
      const i = ++n;
      const roll = random();
      if (roll < 0.45) {
        const token = `chaosnote${i}q`;
        const rec = { incidentId: inc.id, token, acked: false, responseId: `note-${i}` };
        ledger.notes.push(rec);
        countOp('note');
        rec.acked = await deliverSlash('/incident', `note ${token} observed`, { user: inc.user, channel: inc.channel, extraRetry: random() < 0.15, responseId: rec.responseId });
      } else if (roll < 0.65) {
        countOp('update');
        await deliverSlash('/incident', `update chaos update ${i}: still looking`, { user: inc.user, channel: inc.channel });
      } else if (roll < 0.8) {
        countOp('role');
        await deliverSlash('/incident', `role tech <@U0CHTECH${i % 5}>`, { user: inc.user, channel: inc.channel });
      } else if (roll < 0.9) {
        countOp('status');
        await deliverSlash('/incident', `status ${random() < 0.5 ? 'identified' : 'monitoring'}`, { user: inc.user, channel: inc.channel });
      } else {
        countOp('resolve');
        await deliverSlash('/incident', `resolve fixed by chaos ${i}`, { user: inc.user, channel: inc.channel });
      }
    };
    const alert = async () => {
      const i = ++n;
      const group = `ChaosAlert${Math.floor(random() * size.alertGroups)}`;
      const fingerprint = `chaosfp${i}`;
      const body = JSON.stringify({
        version: '4', groupKey: `{}:{alertname="${group}"}`, status: 'firing', receiver: 'firebreak',
        groupLabels: { alertname: group }, commonLabels: { alertname: group }, commonAnnotations: {}, externalURL: 'http://am.chaos',
        alerts: [{ status: 'firing', labels: { alertname: group, instance: `i${i}`, severity: 'warning' }, annotations: { summary: `chaos alert ${i}` }, startsAt: new Date().toISOString(), fingerprint }],
      });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` };
      const rec = { fingerprint, group, acked: false };
      ledger.alerts.push(rec);
      countOp('alert');
      const first = pick();
      let st = await post(first, '/webhooks/alertmanager', body, headers);
      // Alertmanager re-sends what did not get a 2xx.
      for (let k = 0; k < RETRY_PAUSES_MS.length && !(st >= 200 && st < 300); k++) {
        await sleep(RETRY_PAUSES_MS[k]!);
        st = await post(pick(), '/webhooks/alertmanager', body, headers);
      }
      rec.acked = st >= 200 && st < 300;
      const roll = random();
      if (roll < 0.2) {
        countOp('alert_redelivery');
        await post(first, '/webhooks/alertmanager', body, headers);
      } else if (roll < 0.4) {
        // The HA peer sends the same notification to the other replica.
        countOp('alert_ha_duplicate');
        await post(replicas.find((r) => r !== first && r.up), '/webhooks/alertmanager', body, headers);
      }
    };
    const pdWebhook = async () => {
      const page = triggeredPages[Math.floor(random() * triggeredPages.length)];
      if (!page) return alert();
      const id = `PEVCH${++n}`;
      const body = JSON.stringify({
        event: {
          id, event_type: 'incident.escalated', resource_type: 'incident', occurred_at: new Date().toISOString(), agent: { summary: 'PagerDuty' },
          data: { id: page.pdId, type: 'incident', html_url: `https://chaos.pagerduty.com/incidents/${page.pdId}`, incident_key: page.dedupKey, title: 'chaos', assignees: [{ summary: `Oncall ${id}` }] },
        },
      });
      const headers = { 'content-type': 'application/json', 'x-webhook-id': id, 'x-pagerduty-signature': 'v1=' + createHmac('sha256', PD_WEBHOOK_SECRET).update(body).digest('hex') };
      const rec = { id, acked: false };
      ledger.pdWebhooks.push(rec);
      countOp('pagerduty_webhook');
      let st = 0;
      for (let k = 0; k <= RETRY_PAUSES_MS.length && !(st >= 200 && st < 300); k++) {
        if (k > 0) await sleep(RETRY_PAUSES_MS[k - 1]!);
        st = await post(pick(), '/webhooks/pagerduty', body, headers);
      }
      rec.acked = st >= 200 && st < 300;
      if (random() < 0.35) {
        countOp('pagerduty_webhook_repeat');
        await post(pick(), '/webhooks/pagerduty', body, headers);
      }
    };
    const backupNow = async () => {
      countOp('backup_now');
      await deliverSlash('/backup', 'now app', { user: REQUESTER, channel: slack.channel('ops')!.id });
    };
    const drDryRun = async () => {
      countOp('dr_dry_run');
      const rec = { acked: false, responseId: `dr-${++n}` };
      ledger.drDryRuns.push(rec);
      rec.acked = await deliverSlash('/dr', 'dry-run', { user: REQUESTER, channel: slack.channel('ops')!.id, responseId: rec.responseId });
    };
    /** Approvers press Approve on requests in #approvals; some double-click or replay to the other replica. */
    const approvePending = async () => {
      const ch = slack.channel('approvals')!;
      for (const m of slack.messagesIn('approvals')) {
        const value = buttonValueOf(m, APPROVE_ACTION);
        if (!value || clickedChanges.has(value)) continue;
        clickedChanges.add(value);
        const approver = APPROVERS[Math.floor(random() * 2)]!;
        const actionTs = `${(Date.now() / 1000).toFixed(6)}`;
        countOp('approve_click');
        ledger.clicks++;
        let st = await click(pick(), value, approver, actionTs, ch.id, m.ts);
        for (let k = 0; k < RETRY_PAUSES_MS.length && !(st >= 200 && st < 300); k++) {
          await sleep(RETRY_PAUSES_MS[k]!);
          st = await click(pick(), value, approver, actionTs, ch.id, m.ts);
        }
        const roll = random();
        if (roll < 0.25) {
          countOp('approve_double_click');
          await click(pick(), value, approver, `${(Date.now() / 1000).toFixed(6)}`, ch.id, m.ts);
        } else if (roll < 0.5) {
          countOp('approve_replay');
          await click(pick(1), value, approver, actionTs, ch.id, m.ts);
        }
      }
    };

    const kinds: [number, () => Promise<unknown>][] = [
      [0.3, declare], [0.3, incidentCommand], [0.28, alert], [0.08, pdWebhook], [0.04, backupNow],
    ];
    let stopWorkload = false;
    const workStart = Date.now();
    const inFlight = new Set<Promise<unknown>>();
    const workloadLoop = (async () => {
      let nextRefresh = 0;
      let drs = 0;
      while (!stopWorkload) {
        const now = Date.now();
        if (now >= nextRefresh) {
          nextRefresh = now + 1500;
          await refresh();
          const a = approvePending().catch((e: unknown) => log(`approvals error: ${(e as Error).message}`));
          inFlight.add(a);
          void a.finally(() => inFlight.delete(a));
          const elapsed = now - workStart;
          if (drs < size.drDryRuns && elapsed > ((drs + 1) * size.workloadMs) / (size.drDryRuns + 1)) {
            drs++;
            const p = drDryRun();
            inFlight.add(p);
            void p.finally(() => inFlight.delete(p));
          }
        }
        if (inFlight.size < size.concurrency) {
          let roll = random();
          const op = kinds.find(([w]) => (roll -= w) < 0)?.[1] ?? declare;
          const p = op().catch((e: unknown) => log(`workload error: ${(e as Error).message}`));
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        }
        await sleep(size.opIntervalMs);
      }
    })();

    // --- the faults -------------------------------------------------------------------------
    const proxies: Record<string, FaultProxy> = { slack: slackProxy, pagerduty: pdProxy, s3: s3Proxy };
    const multipart = (method: string, url: string) => /[?&](partNumber|uploads|uploadId)=?/.test(url) && method !== 'GET';
    const runFault = async (f: PlannedFault) => {
      const r = replicas[f.replica ?? 0]!;
      switch (f.kind) {
        case 'kill-9': {
          if (!r.up) return;
          await r.kill();
          countFault('replica kill -9');
          await sleep(f.pauseMs ?? 1000);
          await r.start().catch((e: unknown) => log(`restart failed: ${(e as Error).message}`));
          return;
        }
        case 'sigterm': {
          if (!r.up) return;
          await r.terminate();
          countFault('replica SIGTERM');
          await sleep(f.pauseMs ?? 1000);
          await r.start().catch((e: unknown) => log(`restart failed: ${(e as Error).message}`));
          return;
        }
        case 'pg-restart':
          await cluster.restart();
          countFault('PostgreSQL restart -m fast');
          return;
        case 'pg_dump-kill': {
          // Wait (bounded) for a dump to be running, then kill it mid-dump.
          const until = Date.now() + 15_000;
          while (Date.now() < until && !stopWorkload) {
            for (const rep of replicas) {
              const pids = rep.childPids('pg_dump');
              if (pids.length) {
                for (const pid of pids) process.kill(pid, 'SIGKILL');
                countFault('pg_dump killed mid-dump');
                return;
              }
            }
            await sleep(100);
          }
          return;
        }
        default: {
          const [target, fault] = f.kind.split(':') as [string, ProxyFault];
          // PagerDuty and S3 faults wait longer for a request: pages come with some declares,
          // multipart uploads only with backups.
          proxies[target]!.arm({ kind: fault, times: f.times ?? 1, ttlMs: target === 'slack' ? 6000 : 20_000, ...(target === 's3' ? { match: multipart } : {}) });
        }
      }
    };
    const faultRuns: Promise<void>[] = [];
    const chains: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    const faultLoop = (async () => {
      for (const f of schedule) {
        const wait = workStart + f.atMs - Date.now();
        if (wait > 0) await sleep(wait);
        const run = () => runFault(f).catch((e: unknown) => log(`fault ${f.kind} failed: ${(e as Error).message}`));
        // Faults on one replica run one after the other, so a kill never lands on a replica
        // still starting; everything else fires on time.
        if (f.replica !== undefined) chains[f.replica] = chains[f.replica]!.then(run);
        else faultRuns.push(run());
      }
    })();

    await sleep(size.workloadMs);
    stopWorkload = true;
    await workloadLoop;
    await faultLoop;
    await Promise.all([...faultRuns, ...chains]);
    log(`chaos: faults done at ${((Date.now() - workStart) / 1000).toFixed(1)} s`);
    await Promise.all([...inFlight]);
    for (const p of Object.values(proxies)) {
      p.disarm();
      for (const [k, v] of Object.entries(p.applied)) if (v) countFault(`${p === slackProxy ? 'Slack' : p === pdProxy ? 'PagerDuty' : 'S3 multipart'} ${k}`, v);
    }
    for (const r of replicas) if (!r.up) await r.start().catch(() => {});
    // Slack's later retry of every request that never got a 2xx (its write may have landed after
    // the answer was due, or its replica died between commit and answer): the same trigger
    // again, now that both replicas are up. A stored one is acknowledged as a duplicate.
    let redelivered = 0;
    const unacked = slashLog.filter((x) => !x.acked());
    // A few at a time and up to three tries each: a burst of late retries on a busy machine
    // would time out by itself.
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let x = unacked.shift(); x; x = unacked.shift()) {
        let st = 0;
        for (let k = 0; k < 3 && !(st >= 200 && st < 300); k++) st = await slash(pick(), x.command, x.text, { ...x.o, retryNum: 3 });
        if (st >= 200 && st < 300) {
          redelivered++;
          const d = ledger.declares.find((y) => x.text.endsWith(` ${y.title}`) && x.text.startsWith('declare '));
          if (d) d.acked = true;
          const nt = ledger.notes.find((y) => x.text.startsWith(`note ${y.token} `));
          if (nt) nt.acked = true;
          const dr = ledger.drDryRuns.find((y) => y.responseId === x.o.responseId);
          if (dr) dr.acked = true;
        }
      }
    }));
    if (redelivered) countOp('(acknowledged on the late re-delivery)');
    // Last approvals (requests posted late) so nothing is left pending because we stopped looking.
    await approvePending();
    log(`chaos: workload over after ${((Date.now() - workStart) / 1000).toFixed(1)} s; quiescing`);

    // --- quiesce and check ------------------------------------------------------------------
    const quiesceStart = Date.now();
    const { quiet, busy } = await quiesce(state, size.quiesceMs, log);
    const quiesceMs = Date.now() - quiesceStart;
    if (!quiet && logDir) {
      // What the database was doing when the system would not settle: sessions and lock waits.
      const activity = await state.query(`SELECT pid, application_name, state, wait_event_type, wait_event, now() - xact_start AS xact_age, now() - state_change AS state_age, left(query, 300) AS query
          FROM pg_stat_activity WHERE datname = 'firebreak' AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST`).catch((e: unknown) => ({ rows: [String(e)] }));
      const waits = await state.query(`SELECT w.pid AS waiting, b.pid AS holding, w.locktype, w.mode, left(a.query, 200) AS holder_query, a.state AS holder_state
          FROM pg_locks w JOIN pg_locks b ON b.granted AND NOT w.granted AND b.locktype = w.locktype
               AND b.database IS NOT DISTINCT FROM w.database AND b.relation IS NOT DISTINCT FROM w.relation AND b.page IS NOT DISTINCT FROM w.page
               AND b.tuple IS NOT DISTINCT FROM w.tuple AND b.transactionid IS NOT DISTINCT FROM w.transactionid AND b.classid IS NOT DISTINCT FROM w.classid
               AND b.objid IS NOT DISTINCT FROM w.objid AND b.objsubid IS NOT DISTINCT FROM w.objsubid AND b.pid <> w.pid
          JOIN pg_stat_activity a ON a.pid = b.pid`).catch((e: unknown) => ({ rows: [String(e)] }));
      writeFileSync(path.join(logDir, 'not-quiet.json'), JSON.stringify({ activity: activity.rows, waits: waits.rows }, null, 1));
    }
    log(`chaos: quiet after ${((Date.now() - t0) / 1000).toFixed(1)} s; checking invariants`);
    const checkStart = Date.now();
    const invariants = await checkInvariants({
      pool: state, slack, pd, ledger, s3: { endpoint: moto.endpoint, bucket }, identity: age.identity, appUrl: cluster.url('app'),
      adminUrl: cluster.adminUrl, work, restoreSamples: size.restoreSamples,
    });
    log(`chaos: invariants checked in ${((Date.now() - checkStart) / 1000).toFixed(1)} s`);
    const crashes = replicas.flatMap((r) => r.crashes().map((c) => `${r.name} exited (code ${c.code}, signal ${c.signal}): ${c.tail.split('\n').filter(Boolean).slice(-4).join(' | ')}`));
    // Work still due when the checks ran shows up above as lost or stuck although it may only be
    // late; this line says so, so a slow drain is not read as (only) a loss.
    invariants.push({ name: 'system settled before the checks (nothing due or running)', checked: 1, lost: 0, duplicated: 0, stuck: quiet ? 0 : 1, violations: 0,
      notes: [quiet ? `settled ${(quiesceMs / 1000).toFixed(1)} s after the workload` : `still busy after ${(quiesceMs / 1000).toFixed(1)} s: ${busy}`] });
    invariants.push({ name: 'no replica crashed except by injected faults', checked: replicas.reduce((a, r) => a + r.starts, 0), lost: 0, duplicated: 0, stuck: 0, violations: crashes.length, notes: crashes.slice(0, 3) });
    const passed = invariants.every((i) => i.lost === 0 && i.duplicated === 0 && i.stuck === 0 && i.violations === 0);
    if (logDir) {
      writeFileSync(path.join(logDir, 'ledger.json'), JSON.stringify({ ledger, faults, ops, schedule, invariants }, null, 1));
      writeFileSync(path.join(logDir, 'slack.json'), JSON.stringify({ channels: slack.channels, messages: slack.messages, responses: slack.responses }, null, 1));
      execFileSync('pg_dump', ['-Fc', '-f', path.join(logDir, 'state.dump'), cluster.url('firebreak')]);
    }
    return { seed: opts.seed, size: opts.size, durationMs: Date.now() - t0, faults, operations: ops, invariants, crashes, passed, schedule };
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        /* best effort */
      }
    }
  }
}

/** Incompressible rows, so the dump is a few MiB after zstd and goes up as a multipart upload. */
async function seedAppDatabase(url: string, mib: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)');
  await c.query('CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL)');
  for (let i = 1; i <= mib * 4; i++) await c.query('INSERT INTO blobs VALUES ($1, $2)', [i, randomBytes(256 * 1024)]);
  await c.query(`INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 5000) g`);
  await c.end();
}

function firebreakConfig(o: { slackApi: string; pdHost: string; s3: string; bucket: string; appUrl: string; recipient: string; size: ChaosSize }) {
  return {
    logLevel: 'warn',
    slack: { apiUrl: o.slackApi, timeoutSeconds: 2 },
    paging: { eventsHost: o.pdHost, delivery: { attempts: 6, timeoutSeconds: 2, backoffSeconds: 0.2, maxBackoffSeconds: 1, maxRetryAfterSeconds: 1, rateLimitPauseSeconds: 0 } },
    // Reminders every minute for P0/P1, so reminders fall due (and fire once) within the run.
    incidents: { severities: { P0: { updateCadenceMinutes: 1 }, P1: { updateCadenceMinutes: 1 } } },
    alerts: { route: { channel: 'alerts', group_by: ['alertname'], group_wait: '1s', group_interval: '2s', repeat_interval: '4h' } },
    backups: {
      databases: [{ name: 'app', url: o.appUrl }],
      schedules: [{ name: 'chaos', cron: o.size.backupCron, tier: 'hourly' }],
      storage: { bucket: o.bucket, endpoint: o.s3, forcePathStyle: true, partSizeMiB: 5 },
      encryption: { recipient: o.recipient },
      retention: { cron: '*/15 * * * * *', staleHours: 0.005, hourly: 100 },
      progressEverySeconds: 2,
    },
    approvals: { approvers: APPROVERS },
    ops: { shutdownBudgetSeconds: 8, scheduler: { leaseTtlSeconds: 6, renewSeconds: 2 } },
  };
}

/**
 * Waits until nothing is left to do: no running job and none due soon (a retry backing off
 * counts; a reminder counts only once due, since one is always scheduled for an open P1),
 * nothing queued for Slack, no setup half done. The workload's own requests have all been
 * answered before this is called. Waits `timeoutMs`, and on a slow machine longer while the
 * backlog still shrinks (up to three times as long): a drain that is progressing is late, not
 * stuck, and checking before it ends would count its work as lost.
 */
async function quiesce(pool: pg.Pool, timeoutMs: number, log: (l: string) => void): Promise<{ quiet: boolean; busy: string }> {
  const start = Date.now();
  let until = start + timeoutMs;
  const cap = start + 3 * timeoutMs;
  let last = '';
  let lowest = Infinity;
  while (Date.now() < until) {
    try {
      const { rows } = await pool.query<Record<string, number>>(`SELECT
          (SELECT count(*) FROM jobs WHERE status = 'running'
              OR (status = 'pending' AND run_at <= now() + CASE WHEN queue = 'incident.reminder' THEN interval '0' ELSE interval '2 minutes' END))::int AS jobs,
          (SELECT count(*) FROM alert_outbox WHERE not_before <= now() + interval '2 minutes')::int + (SELECT count(*) FROM alert_pending)::int AS alerts,
          (SELECT count(*) FROM incidents WHERE channel_id IS NULL)::int AS "setups",
          (SELECT count(*) FROM change_requests WHERE status IN ('approved','executing'))::int AS changes,
          (SELECT count(*) FROM pages WHERE status = 'pending')::int AS pages,
          (SELECT count(*) FROM dr_runs WHERE status = 'running')::int AS dr`);
      const busy = Object.entries(rows[0]!).filter(([, v]) => Number(v) > 0);
      if (busy.length === 0) return { quiet: true, busy: '' };
      last = busy.map(([k, v]) => `${v} ${k}`).join(', ');
      const total = busy.reduce((n, [, v]) => n + Number(v), 0);
      if (total < lowest) {
        lowest = total;
        until = Math.min(cap, Math.max(until, Date.now() + timeoutMs / 3));
      }
    } catch {
      /* restarting */
    }
    await sleep(250);
  }
  log(`chaos: still busy when the quiesce window ended: ${last}`);
  return { quiet: false, busy: last };
}
