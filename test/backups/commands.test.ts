import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createEmptyDatabase, dropDatabase } from '../support/db.js';
import { seedIncompressible, seedSampleData, tableContents } from '../support/backups.js';
import { generateIdentity } from '../../src/backups/age.js';
import { listBackups } from '../../src/backups/store.js';
import { backupStore } from '../../src/backups/restore.js';
import { APPROVE_ACTION } from '../../src/templates/approvals.js';

let t: TestApp;
let src: { name: string; url: string; drop(): Promise<void> };
let general: string;
const dropLater: string[] = [];

beforeAll(async () => {
  src = await createEmptyDatabase('fb_shop');
  await seedSampleData(src.url, 300);
  await seedIncompressible(src.url, 6);
  const keys = generateIdentity();
  const broken = new URL(src.url);
  broken.pathname = '/fb_does_not_exist';
  t = await startTestApp({
    seedChannels: ['incidents', 'ops', 'approvals', 'alerts', 'general'],
    config: {
      backups: {
        databases: [{ name: 'shop', url: src.url }, { name: 'broken', url: broken.toString() }],
        storage: { localDir: mkdtempSync(path.join(tmpdir(), 'fb-bk-cmd-')) },
        encryption: { recipient: keys.recipient, identity: keys.identity },
        progressEverySeconds: 0.02,
      },
      // These tests are about backups; test/backups/gated.test.ts covers the default approval.
      approvals: { actions: { 'backup.now': { preApproved: true } } },
    },
  });
  general = t.slack.channel('general')!.id;
});

afterAll(async () => {
  await t?.stop();
  for (const d of dropLater) await dropDatabase(d).catch(() => {});
  await src?.drop();
});

const replies = (responseId: string) => t.slack.replies(responseId).join('\n');

describe('/backup in Slack', () => {
  let id: string;

  it('/backup now posts a reply, a progress thread with bytes and rate that ends as the summary, and the reply says how it ended', async () => {
    const { res } = await t.slash('/backup now shop', { channel: general });
    expect(res.status).toBe(200);
    await t.settle();
    const msgs = t.slack.messagesIn('general');
    const parent = msgs.find((m) => m.text.includes('Backup of *shop* started by <@U0ALICE>'));
    expect(parent).toBeDefined();
    const thread = msgs.filter((m) => m.thread_ts === parent!.ts).map((m) => m.text);
    // One reply: the progress message, edited to the summary at the end.
    expect(thread.length).toBe(1);
    expect(parent!.text).toMatch(/Backup of \*shop\* started by <@U0ALICE> — `[^`]+` :white_check_mark: is good\. Details in the thread\./);
    // The progress message was edited while the dump ran, with bytes and a rate, then said at once that the backup landed.
    const edits = t.slack.callsTo('chat.update').map((c) => String(c.text));
    expect(edits.some((e) => /dumping: [\d.]+ (KiB|MiB) compressed, encrypted and sent to the store \([\d.]+ \w+\/s\)/.test(e))).toBe(true);
    expect(edits.some((e) => /uploaded [\d.]+ (KiB|MiB) \([\d.]+ (KiB|MiB) archive\) in \d+s; verifying/.test(e))).toBe(true);
    expect(thread[0]).toMatch(/Backup `\d{8}T\d{6}Z-shop-[0-9a-f]{4}` of \*shop\* is good: [\d.]+ MiB stored .* Verified: SHA-256 ✓, pg_restore --list ✓ \(4 tables\)/);
    const [b] = await listBackups(t.db.pool, { database: 'shop' });
    expect(b!.status).toBe('verified');
    expect(b!.requestedBy).toBe('U0ALICE');
    id = b!.id;
  });

  it('/backup list and /backup show answer with the recorded backup', async () => {
    const list = await t.slash('/backup list', { channel: general });
    await t.settle();
    expect(replies(list.responseId)).toContain(id);
    const show = await t.slash(`/backup show ${id}`, { channel: general });
    await t.settle();
    const text = replies(show.responseId);
    const b = (await listBackups(t.db.pool, { database: 'shop' }))[0]!;
    expect(text).toContain(`SHA-256 ${b.sha256}`);
    expect(text).toContain('public.customers=300');
    const bad = await t.slash('/backup show nonsense', { channel: general });
    await t.settle();
    expect(replies(bad.responseId)).toContain('does not look like a backup id');
  });

  it('/backup verify --full restores into a scratch database and compares row counts', async () => {
    await t.slash(`/backup verify ${id} --full`, { channel: general });
    await t.settle();
    const msg = t.slack.messagesIn('general').map((m) => m.text).find((x) => x.includes('checks out'));
    expect(msg).toMatch(/full restore ✓ \(\d+s, row counts match\)/);
    const b = (await listBackups(t.db.pool, { database: 'shop' }))[0]!;
    expect(b.verification.fullRestore).toMatchObject({ ok: true });
    // The scratch database is gone.
    const { rows } = await t.db.pool.query(`SELECT datname FROM pg_database WHERE datname LIKE 'firebreak_verify_%'`);
    expect(rows).toEqual([]);
  });

  it('/backup restore into a new database gives identical data', async () => {
    const into = `fb_restored_${Date.now().toString(36)}`;
    dropLater.push(into);
    await t.slash(`/backup restore ${id} ${into}`, { channel: general });
    await t.settle();
    expect(t.slack.messagesIn('general').map((m) => m.text).join('\n')).toContain(`into *${into}*`);
    const u = new URL(src.url);
    u.pathname = '/' + into;
    expect(await tableContents(u.toString())).toEqual(await tableContents(src.url));
  });

  it('/backup restore over an existing database goes through change approval', async () => {
    const into = `fb_existing_${Date.now().toString(36)}`;
    dropLater.push(into);
    await t.db.pool.query(`CREATE DATABASE ${into}`);
    const { responseId } = await t.slash(`/backup restore ${id} ${into}`, { channel: general });
    await t.settle();
    expect(replies(responseId)).toMatch(/waiting for approval \(change request #\d+/);
    const u = new URL(src.url);
    u.pathname = '/' + into;
    expect(await tableContents(u.toString())).toEqual({});
    const request = t.slack.messagesIn('approvals').find((m) => JSON.stringify(m.blocks ?? []).includes(APPROVE_ACTION));
    expect(request?.text ?? '').toBeTruthy();
    const value = JSON.stringify(request!.blocks).match(new RegExp(`"action_id":"${APPROVE_ACTION}","value":"([^"]+)"|"value":"([^"]+)","action_id":"${APPROVE_ACTION}"`));
    const v = value?.[1] ?? value?.[2];
    expect(v).toBeTruthy();
    await t.click(APPROVE_ACTION, v!, { user: 'U0BOB', channel: t.slack.channel('approvals')!.id, messageTs: request!.ts });
    await t.settle();
    expect(await tableContents(u.toString())).toEqual(await tableContents(src.url));
  });

  it('/backup restore of a tampered object says checksum mismatch in the channel and leaves no database', async () => {
    const b = (await listBackups(t.db.pool, { database: 'shop' })).find((x) => x.id === id)!;
    const store = backupStore({ pool: t.db.pool, config: t.config });
    const original = (await store.getSmall(b.objectKey))!;
    const tampered = Buffer.from(original);
    const at = Math.floor(tampered.length / 2);
    tampered[at] = tampered[at]! ^ 0x01;
    await store.putSmall(b.objectKey, tampered);
    const into = `fb_tampered_${Date.now().toString(36)}`;
    dropLater.push(into);
    try {
      await t.slash(`/backup restore ${id} ${into}`, { channel: general });
      await t.settle();
    } finally {
      await store.putSmall(b.objectKey, original);
    }
    const failed = t.slack.messagesIn('general').map((m) => m.text).find((x) => x.includes(`into *${into}* failed`));
    expect(failed).toContain(`:x: Restore of \`${id}\` into *${into}* failed: checksum mismatch for backup ${id}: object SHA-256 `);
    expect(failed).toMatch(new RegExp(`: object SHA-256 [0-9a-f]{64}, manifest says ${b.sha256}$`));
    const { rows } = await t.db.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [into]);
    expect(rows).toEqual([]);
  });

  it('a failed backup is reported in the thread and to the ops channel, and never listed as good', async () => {
    await t.slash('/backup now broken', { channel: general });
    await t.settle();
    const ops = t.slack.messagesIn('ops').map((m) => m.text);
    expect(ops.some((x) => /Backup `[^`]+` of \*broken\* FAILED — preflight: cannot connect to database broken/.test(x))).toBe(true);
    const [b] = await listBackups(t.db.pool, { database: 'broken' });
    expect(b!.status).toBe('failed');
  });

  it('a failed /backup now asked in the ops channel is told there once, and its progress message ends as the failure', async () => {
    const opsId = t.slack.channel('ops')!.id;
    const before = t.slack.messagesIn('ops').length;
    await t.slash('/backup now broken', { channel: opsId });
    await t.settle();
    const fresh = t.slack.messagesIn('ops').slice(before);
    const top = fresh.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
    expect(top.map((m) => m.text)).toEqual([expect.stringMatching(/^:floppy_disk: Backup of \*broken\* started by <@U0ALICE> — `[^`]+` :x: FAILED\. Details in the thread\.$/)]);
    const replies = fresh.filter((m) => m.thread_ts && m.thread_ts !== m.ts).map((m) => m.text);
    expect(replies).toEqual([expect.stringMatching(/FAILED — preflight: cannot connect to database broken/)]);
    expect(fresh.some((m) => m.text.includes('so far'))).toBe(false);
  });

  it('/backup expire plans only from chat; unknown databases get the configured names', async () => {
    const plain = await t.slash('/backup expire', { channel: general });
    await t.settle();
    expect(replies(plain.responseId)).toContain('only plans');
    const dry = await t.slash('/backup expire --dry-run', { channel: general });
    await t.settle();
    expect(replies(dry.responseId)).toMatch(/Retention plan \(dry run: nothing deleted\)[\s\S]*keep\s+\S+-shop-\S+ \(newest/);
    const unknown = await t.slash('/backup now nosuch', { channel: general });
    await t.settle();
    expect(replies(unknown.responseId)).toContain('configured: shop, broken');
  });
});
