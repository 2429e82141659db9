/**
 * The default change policy: `/dr dry-run` posts an approval request (one approver, never the
 * requester) and the drill runs only once someone else approves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import type { BackupRecord } from '../../src/backups/model.js';
import { drTestConfig, makeSmallBackedUpSource, spreadRunIds, type SourceDatabase } from './support.js';

let t: TestApp;
let source: SourceDatabase;
let backup: BackupRecord;
let opsId: string;

beforeAll(async () => {
  t = await startTestApp({ config: await drTestConfig('fb-drgate') });
  await spreadRunIds(t.db.pool);
  opsId = t.slack.channel('ops')!.id;
  ({ source, backup } = await makeSmallBackedUpSource(t.app.ctx));
}, 120_000);
afterAll(async () => {
  await t?.stop();
  await source?.drop();
});

const runs = async () => (await t.db.pool.query('SELECT id, status, requester, approvers FROM dr_runs ORDER BY id')).rows;

const approveValue = () => t.slack.buttonValue('approvals', 'DR dry run', 'change_approve');

describe('/dr dry-run under the default change policy', () => {
  it('asks for approval, refuses the requester, and runs once another person approves', async () => {
    const { responseId } = await t.slash('/dr dry-run', { channel: opsId, user: 'U0ALICE' });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toMatch(new RegExp(`dry run of ${backup.id} is waiting for approval`));
    expect(await runs()).toEqual([]);

    const self = await t.click('change_approve', approveValue(), { user: 'U0ALICE', channel: t.slack.channel('approvals')!.id });
    await t.settle();
    expect(t.slack.replies(self.responseId).join()).toMatch(/you asked for change #\d+, so you can/i);
    expect(await runs()).toEqual([]);

    await t.click('change_approve', approveValue(), { user: 'U0BOB', channel: t.slack.channel('approvals')!.id });
    await t.settle();
    const done = await runs();
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ status: 'passed', requester: 'U0ALICE' });
    expect(done[0].approvers).toEqual(['U0BOB']);
  }, 120_000);
});
