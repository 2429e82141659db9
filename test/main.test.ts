/**
 * Firebreak as a black box: the real `src/main.ts` process, started with only DATABASE_URL,
 * the two Slack variables and SLACK_API_URL (pointing at a fake Slack on loopback), driven
 * over HTTP with real v0 signatures.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnMain, stopChild } from './ops/support/process.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlack } from './support/fake-slack.js';
import { createEmptyDatabase } from './support/db.js';
import { sign } from './support/app.js';
import { freePort } from './setup/global.js';

const SECRET = 'blackbox-signing-secret-42';
let slack: FakeSlack;
let db: { url: string; drop(): Promise<void> };
let child: ChildProcess;
let base: string;
let output: () => string;

beforeAll(async () => {
  slack = await new FakeSlack().start();
  slack.addChannel('incidents');
  db = await createEmptyDatabase('fb_main');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ({ child, output } = await spawnMain(
    { DATABASE_URL: db.url, SLACK_BOT_TOKEN: 'xoxb-blackbox-token', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url, PORT: String(port) },
    'serving Slack',
  ));
  expect(output()).toContain(`serving Slack at http://localhost:${port}/slack/events`);
}, 90_000);

afterAll(async () => {
  await stopChild(child);
  await slack?.stop();
  await db?.drop();
});

describe('the started program', () => {
  it('declares an incident from a signed slash command with default config', async () => {
    const body = new URLSearchParams({
      command: '/incident', text: 'declare P1 Database down', user_id: 'U0ALICE', user_name: 'alice', channel_id: 'C0GENERAL',
      team_id: 'T0TEST', trigger_id: 'trig-1', response_url: slack.responseUrl('r1'), api_app_id: 'A0TEST',
    }).toString();
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(`${base}/slack/events`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SECRET, ts, body) },
    });
    expect(res.status).toBe(200);
    await expect.poll(() => slack.channels.map((c) => c.name), { timeout: 15_000 }).toContainEqual(expect.stringMatching(/^inc-\d{8}-database-down$/));
    const announced = () => slack.messagesIn('incidents').map((m) => String(m.text));
    await expect.poll(announced, { timeout: 15_000 }).toContainEqual(expect.stringContaining('Database down'));

    const forged = await fetch(`${base}/slack/events`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign('wrong', ts, body) },
    });
    expect(forged.status).toBe(401);
    // With Slack configured the console is not served unless FIREBREAK_CONSOLE_WITH_SLACK says so.
    expect((await fetch(`${base}/console`)).status).toBe(404);
  }, 30_000);

  it('stops on SIGTERM with exit code 0 and never logs the secrets it was given', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).not.toContain('xoxb-blackbox-token');
    expect(output()).not.toContain(SECRET);
  }, 40_000);
});
