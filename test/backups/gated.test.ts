/**
 * The default change policy: `/backup now` posts an approval request (one approver, never the
 * requester) and the backup runs only when someone else approves; the CLI, which cannot
 * collect approvals, refuses.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createEmptyDatabase } from '../support/db.js';
import { generateIdentity } from '../../src/backups/age.js';

let t: TestApp;
let src: { url: string; drop(): Promise<void> };

beforeAll(async () => {
  src = await createEmptyDatabase('fb_bkgate');
  const keys = generateIdentity();
  t = await startTestApp({
    config: {
      backups: {
        databases: [{ name: 'shop', url: src.url }],
        storage: { localDir: mkdtempSync(path.join(tmpdir(), 'fb-bk-gate-')) },
        encryption: { recipient: keys.recipient, identity: keys.identity },
      },
    },
  });
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await src?.drop();
});

const backups = async () => (await t.db.pool.query('SELECT status, requested_by FROM backups')).rows;
const approveValue = () => t.slack.buttonValue('approvals', 'Backup of shop', 'change_approve');

describe('/backup now under the default change policy', () => {
  it('waits for an approver other than the requester, then backs up once', async () => {
    const ops = t.slack.channel('ops')!.id;
    const { responseId } = await t.slash('/backup now shop', { channel: ops, user: 'U0ALICE' });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toMatch(/backup of \*shop\* is waiting for approval \(change request #\d+, 1 approval/i);
    expect(await backups()).toEqual([]);

    const approvals = t.slack.channel('approvals')!.id;
    const self = await t.click('change_approve', approveValue(), { user: 'U0ALICE', channel: approvals });
    await t.settle();
    expect(t.slack.replies(self.responseId).join()).toMatch(/you asked for change #\d+, so you can/i);
    expect(await backups()).toEqual([]);

    await t.click('change_approve', approveValue(), { user: 'U0BOB', channel: approvals });
    await t.click('change_approve', approveValue(), { user: 'U0CAROL', channel: approvals });
    await t.settle();
    expect(await backups()).toEqual([{ status: 'verified', requested_by: 'U0ALICE' }]);
    // The progress thread hangs under the start message in the channel it was asked from.
    expect(t.slack.messagesIn('ops').some((m) => /Backup of \*shop\* started by <@U0ALICE>/.test(m.text))).toBe(true);
  }, 120_000);
});

describe('/backup now in Slack mode without a key', () => {
  it('says what to configure before it asks anyone to approve, and no change request is made', async () => {
    const bare = await startTestApp({ config: { backups: { databases: [{ name: 'shop', url: src.url }] } } });
    try {
      const ops = bare.slack.channel('ops')!.id;
      const { responseId } = await bare.slash('/backup now shop', { channel: ops, user: 'U0ALICE' });
      await bare.settle();
      expect(bare.slack.replies(responseId).join()).toMatch(/not asking anyone to approve one: no encryption key: set FIREBREAK_BACKUP_RECIPIENT/);
      expect(bare.slack.messagesIn('approvals')).toEqual([]);
      expect((await bare.db.pool.query('SELECT count(*)::int AS n FROM change_requests')).rows[0].n).toBe(0);
    } finally {
      await bare.stop();
    }
  }, 120_000);
});
