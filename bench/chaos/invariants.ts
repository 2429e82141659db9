/**
 * The checks after the system has quiesced. Each invariant counts what it checked and what it
 * found lost, duplicated or stuck (plus other violations, such as work done without approval).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { S3Client, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { FakeSlack } from '../../test/support/fake-slack.js';
import { configSchema } from '../../src/config/schema.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { backupStore, compareRowCounts, fetchDecryptedArchive, getBackup, restoreArchive, rowCounts } from '../../src/backups/restore.js';
import { checkStoredObject } from '../../src/backups/verify.js';
import { parseIdentity } from '../../src/backups/age.js';
import { slugify } from '../../src/incidents/channel-name.js';
import type { FakePagerDuty } from './fake-pagerduty.js';

export interface Ledger {
  declares: { title: string; acked: boolean }[];
  /** responseId: the response_url the note's answers went to (a refusal is told there). */
  notes: { incidentId: number; token: string; acked: boolean; responseId: string }[];
  alerts: { fingerprint: string; group: string; acked: boolean }[];
  pdWebhooks: { id: string; acked: boolean }[];
  drDryRuns: { acked: boolean; responseId: string }[];
  clicks: number;
}

export interface InvariantResult {
  name: string;
  checked: number;
  lost: number;
  duplicated: number;
  stuck: number;
  /** Anything else the invariant forbids (an orphan incident, a change run without approval). */
  violations: number;
  notes: string[];
}

interface Inputs {
  pool: pg.Pool;
  slack: FakeSlack;
  pd: FakePagerDuty;
  ledger: Ledger;
  s3: { endpoint: string; bucket: string };
  identity: string;
  appUrl: string;
  adminUrl: string;
  work: string;
  restoreSamples: number;
}

const result = (name: string): InvariantResult => ({ name, checked: 0, lost: 0, duplicated: 0, stuck: 0, violations: 0, notes: [] });
const note = (r: InvariantResult, s: string) => {
  if (r.notes.length < 4) r.notes.push(s);
};

export async function checkInvariants(i: Inputs): Promise<InvariantResult[]> {
  return [
    await declares(i), await notes(i), await alerts(i), await changes(i), await backups(i),
    await pages(i), await pdWebhooks(i), await reminders(i), await jobs(i), await drRuns(i), await audit(i),
  ];
}

/** Posts tagged (Slack message metadata) as one setup step of one incident. */
const taggedStep = (id: number, step: string) => (m: { metadata?: { event_payload: Record<string, unknown> } }) =>
  Number(m.metadata?.event_payload['incident_id']) === id && m.metadata?.event_payload['step'] === step;

async function declares({ pool, slack, ledger }: Inputs): Promise<InvariantResult> {
  const r = result('acknowledged declare → one incident, one channel, one headline, one announcement');
  const { rows } = await pool.query<{ title: string; n: number; rooms: number; id: number; channel_id: string | null }>(
    "SELECT title, count(*)::int AS n, count(channel_id)::int AS rooms, min(id)::int AS id, min(channel_id) AS channel_id FROM incidents WHERE title LIKE 'chaos op %' GROUP BY title");
  const byTitle = new Map(rows.map((x) => [x.title, x]));
  const acked = new Set(ledger.declares.filter((d) => d.acked).map((d) => d.title));
  for (const title of acked) {
    r.checked++;
    const row = byTitle.get(title);
    const slug = slugify(title);
    const channels = slack.channels.filter((c) => new RegExp(`(^|-)${slug}(-\\d+)?$`).test(c.name)).length;
    if (!row) {
      r.lost++;
      note(r, `lost: "${title}" was acknowledged but has no incident`);
    } else if (row.n > 1 || channels > 1) {
      r.duplicated++;
      note(r, `duplicated: "${title}" has ${row.n} incidents and ${channels} channels`);
    } else if (row.rooms === 0 || channels === 0) {
      r.stuck++;
      note(r, `stuck: "${title}" has no war room`);
    } else {
      // The war room's messages, each found by the step tag it was posted with.
      const headlines = slack.messagesIn(row.channel_id!).filter(taggedStep(row.id, 'headline')).length;
      const announcements = slack.messagesIn('incidents').filter(taggedStep(row.id, 'announce')).length;
      if (headlines > 1 || announcements > 1) {
        r.duplicated++;
        note(r, `duplicated: "${title}" has ${headlines} headlines and ${announcements} announcements`);
      } else if (headlines === 0 || announcements === 0) {
        r.stuck++;
        note(r, `stuck: "${title}" has ${headlines} headlines and ${announcements} announcements`);
      }
    }
  }
  for (const row of rows) {
    if (!acked.has(row.title)) {
      r.violations++;
      note(r, `orphan: incident "${row.title}" exists though its request was never acknowledged`);
    }
  }
  return r;
}

async function notes({ pool, slack, ledger }: Inputs): Promise<InvariantResult> {
  const r = result('acknowledged note → exactly one timeline entry (or told why not)');
  const { rows } = await pool.query<{ text: string }>("SELECT payload->>'text' AS text FROM events WHERE type = 'incident.note_added'");
  const count = new Map<string, number>();
  for (const row of rows) {
    const token = /chaosnote\d+q/.exec(row.text ?? '')?.[0];
    if (token) count.set(token, (count.get(token) ?? 0) + 1);
  }
  let refused = 0;
  for (const n of ledger.notes.filter((x) => x.acked)) {
    r.checked++;
    const c = count.get(n.token) ?? 0;
    // A note that reached its incident after a resolve sent at the same moment is refused, and
    // the person is told so on the command's response_url: answered, not lost.
    if (c === 0 && slack.replies(n.responseId).some((t) => /was resolved at .* no longer applies|is resolved; notes after the fact/.test(t))) {
      refused++;
      continue;
    }
    if (c === 0) {
      r.lost++;
      note(r, `lost: note ${n.token} on INC-${n.incidentId}`);
    } else if (c > 1) {
      r.duplicated++;
      note(r, `duplicated: note ${n.token} recorded ${c} times`);
    }
  }
  if (refused) note(r, `${refused} refused because the incident was resolved first (the person was told)`);
  return r;
}

async function alerts({ pool, slack, ledger }: Inputs): Promise<InvariantResult> {
  const r = result('2xx alert → stored once, in its group message; no group posted twice');
  const { rows } = await pool.query<{ fingerprint: string; group_id: string | null; channel_id: string | null; ts: string | null }>(
    `SELECT a.fingerprint, m.group_id::text, msg.channel_id, msg.ts FROM alerts a
       LEFT JOIN alert_group_members m ON m.alert_id = a.id
       LEFT JOIN alert_messages msg ON msg.group_id = m.group_id
      WHERE a.source = 'alertmanager'`);
  const byFp = new Map<string, typeof rows>();
  for (const row of rows) byFp.set(row.fingerprint, [...(byFp.get(row.fingerprint) ?? []), row]);
  const groups = await pool.query<{ id: string; firing: number; alertname: string }>(
    `SELECT g.id::text, count(*) FILTER (WHERE a.status = 'firing')::int AS firing, g.group_labels->>'alertname' AS alertname
       FROM alert_groups g JOIN alert_group_members m ON m.group_id = g.id JOIN alerts a ON a.id = m.alert_id GROUP BY g.id`);
  const firing = new Map(groups.rows.map((g) => [g.id, g]));
  for (const a of ledger.alerts.filter((x) => x.acked)) {
    r.checked++;
    const found = byFp.get(a.fingerprint);
    if (!found) {
      r.lost++;
      note(r, `lost: alert ${a.fingerprint} (${a.group})`);
      continue;
    }
    if (new Set(found.map((f) => f.group_id)).size > 1) {
      r.duplicated++;
      note(r, `duplicated: alert ${a.fingerprint} is in ${found.length} groups`);
      continue;
    }
    const f = found[0]!;
    const msg = f.ts ? slack.messages.find((m) => m.channel === f.channel_id && m.ts === f.ts) : undefined;
    const g = f.group_id ? firing.get(f.group_id) : undefined;
    if (!msg || !g) {
      r.stuck++;
      note(r, `stuck: alert ${a.fingerprint} has no group message`);
    } else if (!msg.text.startsWith(`FIRING: ${g.firing} `)) {
      r.stuck++;
      note(r, `stale: group #${f.group_id} message says "${msg.text.slice(0, 40)}" but ${g.firing} alerts fire`);
    }
  }
  for (const g of groups.rows) {
    const posted = slack.messages.filter((m) => !m.thread_ts && JSON.stringify(m.blocks ?? []).includes(`group #${g.id} ·`)).length;
    if (posted > 1) {
      r.duplicated++;
      note(r, `duplicated: group #${g.id} posted ${posted} times`);
    }
  }
  return r;
}

async function changes({ pool }: Inputs): Promise<InvariantResult> {
  const r = result('approved change → executed exactly once; none without approvals');
  const { rows } = await pool.query<{ id: string; status: string; requester: string; required: number; because: string | null; approvers: number; started: number }>(
    `SELECT c.id::text, c.status, c.requester, c.approvals_required AS required, c.started_because AS because,
            (SELECT count(DISTINCT a.approver) FROM change_approvals a WHERE a.request_id = c.id AND a.approver <> c.requester AND a.params_hash = c.params_hash)::int AS approvers,
            (SELECT count(*) FROM events e WHERE e.type = 'change.started' AND e.subject = 'change:' || c.id)::int AS started
       FROM change_requests c`);
  const byStatus = new Map<string, number>();
  for (const c of rows) byStatus.set(c.status, (byStatus.get(c.status) ?? 0) + 1);
  if (rows.length) note(r, `requests by status: ${[...byStatus].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  for (const c of rows) {
    r.checked++;
    if (c.started > 1) {
      r.duplicated++;
      note(r, `duplicated: change #${c.id} started ${c.started} times`);
    }
    if (c.started > 0 && c.because === 'approved' && c.approvers < c.required) {
      r.violations++;
      note(r, `unapproved: change #${c.id} ran with ${c.approvers}/${c.required} approvals`);
    }
    if (c.status === 'pending' && c.approvers >= c.required && c.required > 0) {
      r.lost++;
      note(r, `lost: change #${c.id} has its approvals but never ran`);
    }
    if (['approved', 'executing'].includes(c.status)) {
      r.stuck++;
      note(r, `stuck: change #${c.id} is still ${c.status}`);
    }
  }
  return r;
}

async function backups(i: Inputs): Promise<InvariantResult> {
  const r = result('backup marked good restores; no multipart upload left behind');
  const config = configSchema.parse({
    databaseUrl: i.adminUrl, logLevel: 'silent',
    backups: { storage: { bucket: i.s3.bucket, endpoint: i.s3.endpoint, forcePathStyle: true }, encryption: { identity: i.identity } },
  });
  const ctx = { pool: i.pool, config };
  const { rows } = await i.pool.query<{ id: string; status: string }>("SELECT id, status FROM backups ORDER BY started_at DESC");
  const identity = parseIdentity(i.identity);
  // A backup still 'running' while nobody holds its database's backup lock has lost its process
  // (the lock is a session lock, so it dies with the process): that is the stuck case. Wait a
  // little for a backup that really is running to finish first.
  const abandoned = await abandonedBackups(i.pool, 30_000);
  let restored = 0;
  for (const b of rows) {
    if (b.status === 'running') {
      if (abandoned.has(b.id)) {
        r.stuck++;
        note(r, `stuck: backup ${b.id} is 'running' but no process runs it`);
      }
      continue;
    }
    if (b.status !== 'verified') continue;
    r.checked++;
    const rec = (await getBackup(ctx, b.id))!;
    try {
      // Every good backup: size, checksum, decryption and `pg_restore --list`.
      await checkStoredObject(backupStore(ctx), { id: rec.id, objectKey: rec.objectKey, sha256: rec.sha256!, storedBytes: rec.storedBytes!, rawBytes: rec.rawBytes }, identity);
      // The newest few: a real restore, with row counts against the manifest.
      if (restored < i.restoreSamples) {
        restored++;
        const problems = await restoreAndCount(ctx, rec, i);
        if (problems.length) throw new Error(problems.join('; '));
      }
    } catch (e) {
      // Retention keeps running while this checks: a backup it expired meanwhile is gone on purpose.
      const now = await i.pool.query<{ status: string }>('SELECT status FROM backups WHERE id = $1', [b.id]);
      if (now.rows[0]?.status !== 'verified') {
        r.checked--;
        continue;
      }
      r.lost++;
      note(r, `bad: backup ${b.id} marked verified but ${(e as Error).message.slice(0, 160)}`);
    }
  }
  const s3 = new S3Client({ endpoint: i.s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: i.s3.bucket }))).Uploads ?? [];
  // Retention cleans uploads older than staleHours (18 s here) every 15 s: older than that is left behind.
  // An upload of a backup still running (scheduled backups go on while this checks) is in use.
  const running = await i.pool.query<{ object_key: string | null }>("SELECT object_key FROM backups WHERE status = 'running'");
  const inUse = new Set(running.rows.map((x) => x.object_key));
  const left = uploads.filter((u) => u.Initiated && Date.now() - u.Initiated.getTime() > 45_000 && !inUse.has(u.Key ?? ''));
  r.stuck += left.length;
  if (left.length) note(r, `${left.length} multipart upload(s) left behind, e.g. ${left[0]!.Key}`);
  return r;
}

async function restoreAndCount(ctx: { pool: pg.Pool; config: ReturnType<typeof configSchema.parse> }, rec: NonNullable<Awaited<ReturnType<typeof getBackup>>>, i: Inputs): Promise<string[]> {
  const dir = mkdtempSync(path.join(i.work, 'restore-'));
  const name = `chaos_restore_${rec.id.replace(/[^a-z0-9]/gi, '').slice(-12).toLowerCase()}`;
  const admin = new pg.Client({ connectionString: i.adminUrl });
  await admin.connect();
  try {
    const archive = path.join(dir, 'b.dump');
    await fetchDecryptedArchive(ctx, rec, archive);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
    const url = new URL(i.adminUrl);
    url.pathname = `/${name}`;
    await restoreArchive(archive, url.toString());
    return compareRowCounts(rec.rowCounts ?? {}, await rowCounts(url.toString()));
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pages({ pool, pd }: Inputs): Promise<InvariantResult> {
  const r = result('page → delivered once per dedup key (PagerDuty side)');
  const { rows } = await pool.query<{ dedup_key: string; status: string; incident_id: string }>('SELECT dedup_key, status, incident_id::text FROM pages');
  const delivered = new Set(pd.triggers().map((t) => t.dedupKey));
  const byStatus = new Map<string, number>();
  for (const p of rows) byStatus.set(p.status, (byStatus.get(p.status) ?? 0) + 1);
  if (rows.length) note(r, `pages by status: ${[...byStatus].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  for (const p of rows) {
    r.checked++;
    if (p.status === 'pending') {
      r.stuck++;
      note(r, `stuck: page for INC-${p.incident_id} still pending`);
    } else if (!delivered.has(p.dedup_key)) {
      r.lost++;
      note(r, `lost: page ${p.dedup_key} (${p.status}) never reached PagerDuty`);
    }
    const opened = pd.opened.get(p.dedup_key) ?? 0;
    if (opened > 1) {
      r.duplicated++;
      note(r, `duplicated: ${p.dedup_key} opened ${opened} PagerDuty alerts`);
    }
  }
  const known = new Set(rows.map((p) => p.dedup_key));
  for (const key of delivered) {
    // Firebreak's own operational alerts (a failed backup) page under their own keys.
    if (key.startsWith('firebreak-ops:')) continue;
    if (!known.has(key)) {
      r.violations++;
      note(r, `PagerDuty got ${key}, which no page records`);
    }
  }
  return r;
}

async function pdWebhooks({ pool, ledger }: Inputs): Promise<InvariantResult> {
  const r = result('2xx PagerDuty webhook → handled once per X-Webhook-Id');
  const { rows } = await pool.query<{ id: string; n: number }>("SELECT payload->>'pdEventId' AS id, count(*)::int AS n FROM events WHERE type = 'pagerduty.escalated' GROUP BY 1");
  const seen = new Map(rows.map((x) => [x.id, x.n]));
  for (const w of ledger.pdWebhooks.filter((x) => x.acked)) {
    r.checked++;
    const c = seen.get(w.id) ?? 0;
    if (c === 0) {
      r.lost++;
      note(r, `lost: webhook ${w.id}`);
    } else if (c > 1) {
      r.duplicated++;
      note(r, `duplicated: webhook ${w.id} handled ${c} times`);
    }
  }
  return r;
}

/**
 * Reminders: each one recorded (incident.reminder_sent) was posted exactly once in the
 * incident's channel, and no open incident has a reminder overdue (due, never fired).
 */
async function reminders({ pool, slack }: Inputs): Promise<InvariantResult> {
  const r = result('due reminder → fired exactly once');
  const sent = await pool.query<{ incident_id: number; channel_id: string | null; missed: number; n: number }>(
    `SELECT e.incident_id, i.channel_id, (e.payload->>'missed')::int AS missed, count(*)::int AS n
       FROM events e JOIN incidents i ON i.id = e.incident_id WHERE e.type = 'incident.reminder_sent' GROUP BY 1, 2, 3`);
  // Reminder N can come again after an update reset the count, so compare counts per (incident, N).
  const posted = new Map<string, number>();
  for (const m of slack.messages) {
    const n = /^INC-(\d+): no update for \d+ minutes$/.test(m.text) ? /Reminder (\d+)\./.exec(JSON.stringify(m.blocks ?? []))?.[1] : undefined;
    if (n) posted.set(`${m.channel}:${n}`, (posted.get(`${m.channel}:${n}`) ?? 0) + 1);
  }
  const recorded = new Set<string>();
  for (const s of sent.rows) {
    r.checked += s.n;
    const key = `${s.channel_id}:${s.missed}`;
    recorded.add(key);
    const p = posted.get(key) ?? 0;
    if (p > s.n) {
      r.duplicated += p - s.n;
      note(r, `duplicated: INC-${s.incident_id} reminder ${s.missed} posted ${p} times, recorded ${s.n}`);
    } else if (p < s.n) {
      r.lost += s.n - p;
      note(r, `lost: INC-${s.incident_id} reminder ${s.missed} recorded ${s.n} times, posted ${p}`);
    }
  }
  for (const [key, p] of posted) {
    if (!recorded.has(key)) {
      r.duplicated += p;
      note(r, `posted but never recorded: reminder ${key} (${p}x)`);
    }
  }
  // Due and never fired: an open incident with a cadence whose next reminder is a minute late.
  const open = await pool.query<{ id: number; overdue: boolean }>(
    `SELECT id, COALESCE(last_update_at, declared_at) + interval '1 minute' * (missed_reminders + 1) < now() - interval '60 seconds' AS overdue
       FROM incidents WHERE status <> 'resolved' AND severity IN ('P0', 'P1')`);
  r.checked += open.rows.length;
  for (const o of open.rows.filter((x) => x.overdue)) {
    r.lost++;
    note(r, `lost: INC-${o.id} has a reminder overdue by more than a minute`);
  }
  return r;
}

async function jobs({ pool }: Inputs): Promise<InvariantResult> {
  const r = result('no job stuck in running beyond its lease (or given up)');
  const { rows } = await pool.query<{ n: number; stuck: number; overdue: number; failed: number; failedSample: string | null; sample: string | null }>(
    `SELECT count(*)::int AS n,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            min(queue || ': ' || coalesce(last_error, '')) FILTER (WHERE status = 'failed') AS "failedSample",
            count(*) FILTER (WHERE status = 'running' AND locked_until < now())::int AS stuck,
            count(*) FILTER (WHERE status = 'pending' AND run_at < now() - interval '30 seconds')::int AS overdue,
            min(queue) FILTER (WHERE (status = 'running' AND locked_until < now()) OR (status = 'pending' AND run_at < now() - interval '30 seconds')) AS sample
       FROM jobs`);
  const x = rows[0]!;
  r.checked = x.n;
  r.stuck = x.stuck + x.overdue;
  // A job that used up its attempts is work given up: lost.
  r.lost = x.failed;
  if (x.failed) note(r, `${x.failed} job(s) failed for good, e.g. ${x.failedSample?.slice(0, 160)}`);
  if (r.stuck) note(r, `${x.stuck} running past lease, ${x.overdue} overdue pending (e.g. queue ${x.sample})`);
  return r;
}

async function drRuns({ pool, slack, ledger }: Inputs): Promise<InvariantResult> {
  const r = result('acknowledged DR dry run → answered; no DR run stuck running');
  for (const d of ledger.drDryRuns.filter((x) => x.acked)) {
    r.checked++;
    const replies = slack.replies(d.responseId);
    if (replies.length === 0) {
      r.lost++;
      note(r, `lost: DR dry run request ${d.responseId} was acknowledged but never answered`);
    } else note(r, `dry run answered: ${replies[0]!.slice(0, 100)}`);
  }
  const { rows } = await pool.query<{ id: string; status: string }>('SELECT id::text, status FROM dr_runs');
  for (const d of rows) {
    r.checked++;
    if (d.status === 'running') {
      r.stuck++;
      note(r, `stuck: DR run ${d.id}`);
    }
  }
  return r;
}

async function audit({ pool }: Inputs): Promise<InvariantResult> {
  const r = result('audit chain verifies');
  const v = await verifyAuditLog(pool);
  r.checked = v.checked;
  if (!v.ok) {
    r.violations++;
    note(r, `broken at #${v.firstBroken?.id}: ${v.firstBroken?.reason}`);
  }
  return r;
}

async function abandonedBackups(pool: pg.Pool, waitMs: number): Promise<Set<string>> {
  const until = Date.now() + waitMs;
  const c = await pool.connect();
  try {
    for (;;) {
      const { rows } = await c.query<{ id: string; database: string }>("SELECT id, database FROM backups WHERE status = 'running'");
      const out = new Set<string>();
      let busy = false;
      for (const db of new Set(rows.map((x) => x.database))) {
        const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`firebreak-backup:${db}`]);
        if (lock.rows[0]!.ok) {
          for (const x of rows) if (x.database === db) out.add(x.id);
          await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`firebreak-backup:${db}`]);
        } else busy = true;
      }
      if (!busy || Date.now() > until) return out;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    c.release();
  }
}
