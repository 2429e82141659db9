/**
 * Alert posts keep the documented pace in real time (`alerts.postsPerSecondPerChannel`, default
 * 1/s), not just "never faster" under a fake clock: the real program, the real clock, the job
 * loop on. Posts used to come ~2.0 s apart because the next slot waited for the job loop's 1 s
 * poll after the 1 s pace (issue 24); a timer for the slot keeps them ~1 s apart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';
import { killIfRunning, startFirebreak, type FirebreakProcess } from '../ops/support/process.js';

const TOKEN = `am-pace-${randomBytes(6).toString('hex')}`;
const GROUPS = 6;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-pace-'));
let slack: FakeSlack;
let db: TestDatabase;
let p: FirebreakProcess | undefined;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  for (const c of ['incidents', 'ops', 'approvals', 'alerts']) slack.addChannel(c);
  db = await createTestDatabase('fb_pace');
  writeFileSync(path.join(dir, 'firebreak.yml'), JSON.stringify({ alerts: { route: { group_by: ['alertname'], group_wait: '1s', channel: 'alerts' } } }));
  p = await startFirebreak({
    DATABASE_URL: db.url, SLACK_BOT_TOKEN: 'xoxb-pace', SLACK_SIGNING_SECRET: `pace-${randomBytes(8).toString('hex')}`, SLACK_API_URL: slack.url,
    ALERTMANAGER_WEBHOOK_TOKEN: TOKEN, FIREBREAK_CONFIG: path.join(dir, 'firebreak.yml'), FIREBREAK_DATA_DIR: dir,
  });
}, 120_000);
afterAll(async () => {
  await killIfRunning(p);
  await slack?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('alert post pace', () => {
  it(`${GROUPS} new groups into one channel are posted about one second apart`, async () => {
    const alerts = Array.from({ length: GROUPS }, (_, g) => ({
      status: 'firing', labels: { alertname: `Pace${g}` }, annotations: {}, startsAt: new Date().toISOString(), fingerprint: `f${g}`,
    }));
    const res = await fetch(`${p!.url}/webhooks/alertmanager`, {
      method: 'POST', body: JSON.stringify({ version: '4', status: 'firing', receiver: 'firebreak', groupKey: 'g', alerts }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBeLessThan(300);
    const alertsChannel = slack.channel('alerts')!.id;
    const posts = () => slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args['channel'] === alertsChannel);
    const deadline = Date.now() + 60_000;
    while (posts().length < GROUPS) {
      if (Date.now() > deadline) throw new Error(`only ${posts().length} of ${GROUPS} group posts within 60 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const at = posts().map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => (t - at[i]!) / 1000).sort((a, b) => a - b);
    console.log(`alert posts into one channel: gaps ${gaps.map((g) => g.toFixed(2)).join(', ')} s`);
    // Never faster than the pace over the whole run. One gap alone can look short: these are
    // arrival times, and a post delayed on its way shortens the gap after it (0.83 s was seen
    // under a load average of 20) while lengthening the one before; the span cannot shrink so.
    // (That each send waits its slot is the fake-clock storm test's job.)
    expect((at[at.length - 1]! - at[0]!) / 1000).toBeGreaterThanOrEqual(0.9 * (GROUPS - 1));
    // ... and not half of it: the median gap is near 1 s (it was ~2.0 s), allowing for a loaded machine.
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(1.5);
  }, 150_000);
});
