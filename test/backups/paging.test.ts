/** A failed or stale backup pages through PagerDuty when it is configured, besides the ops channel. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { urlFor } from '../support/db.js';
import { accepted, fakeEvents, isolateNetwork } from '../paging/support.js';
import { generateIdentity } from '../../src/backups/age.js';
import { eventsBy } from '../../src/events/log.js';

const KEY = 'R0OPS0000000000000000000000000001';
let t: TestApp;

beforeAll(async () => {
  isolateNetwork();
  const keys = generateIdentity();
  t = await startTestApp({
    config: {
      paging: { routingKey: KEY },
      backups: {
        // A database that does not exist: every backup of it fails at pre-flight.
        databases: [{ name: 'gone', url: urlFor('fb_no_such_db') }],
        storage: { localDir: mkdtempSync(path.join(tmpdir(), 'fb-bk-page-')) },
        encryption: { recipient: keys.recipient, identity: keys.identity },
      },
    },
  });
});
afterAll(async () => {
  await t?.stop();
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('backup alerts page', () => {
  it('pages once per problem with a stable dedup key, and records it', async () => {
    const pd = fakeEvents([accepted(), accepted()]);
    const service = t.app.services.backups;
    const target = service.target('gone');
    const first = await service.take(target, { tier: 'manual', requestedBy: 'U0ALICE' });
    expect('busy' in first ? 'busy' : first.record.status).toBe('failed');
    await service.take(target, { tier: 'manual', requestedBy: 'U0ALICE' });
    await t.settle();

    expect(pd.bodies).toHaveLength(2);
    for (const b of pd.bodies) {
      expect(b).toMatchObject({ routing_key: KEY, event_action: 'trigger', dedup_key: 'firebreak-ops:backup-failed:gone', payload: { severity: 'error', class: 'firebreak-ops' } });
      expect(String((b.payload as { summary: string }).summary)).toMatch(/gone/);
    }
    expect(t.slack.messagesIn('ops').filter((m) => /gone/.test(m.text))).toHaveLength(2);
    const recorded = await eventsBy(t.db.pool, { subject: 'ops:backup-failed:gone' });
    expect(recorded.map((e) => e.type)).toEqual(['paging.ops_paged', 'paging.ops_paged']);
  }, 60_000);
});
