/**
 * The whole Firebreak app for a test file: its own migrated database, Slack faked over HTTP
 * (the real Bolt and @slack/web-api code runs), a fake clock, and signed-request helpers that
 * talk to POST /slack/events exactly as Slack does.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import type { ConfigVersionRef } from '../../src/config/version-ref.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { FakeClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createSlackEdge } from '../../src/slack/edge.js';
import { FakeSlack } from './fake-slack.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789';
export const BOT_TOKEN = 'xoxb-test-token-0123456789';

export interface TestApp {
  app: FirebreakApp;
  db: TestDatabase;
  slack: FakeSlack;
  clock: FakeClock;
  config: Config;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Waits for background work (war rooms, executions) to finish. */
  settle(): Promise<void>;
  /** Signs and posts a raw body to /slack/events. */
  postSigned(body: string, contentType: string, opts?: { timestamp?: number; secret?: string; headers?: Record<string, string> }): Promise<Response>;
  /** `/incident declare P1 x` style; returns the HTTP response and the response_url id. */
  slash(commandLine: string, opts?: { user?: string; channel?: string; triggerId?: string; retryNum?: number }): Promise<{ res: Response; responseId: string; triggerId: string }>;
  /** Clicks a button. */
  click(actionId: string, value: string, opts?: { user?: string; channel?: string; messageTs?: string; actionTs?: string }): Promise<{ res: Response; responseId: string }>;
  /** Submits a modal with block_id -> value. */
  submitView(callbackId: string, values: Record<string, string>, opts?: { user?: string; privateMetadata?: string; viewId?: string; selectBlocks?: string[] }): Promise<Response>;
  /** Delivers an Events API event. */
  event(event: Record<string, unknown>, opts?: { eventId?: string; retryNum?: number }): Promise<Response>;
  stop(): Promise<void>;
}

export function sign(secret: string, timestamp: number, body: string): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
}

export async function startTestApp(
  opts: {
    config?: Record<string, unknown>;
    clock?: FakeClock;
    seedChannels?: string[];
    /** Share a database and fake Slack with another app: a restart or a second replica. stop() leaves them running. */
    shared?: { db: TestDatabase; slack: FakeSlack };
    /** The stored configuration version the app starts on (AppOptions.configVersion). */
    configVersion?: ConfigVersionRef;
  } = {},
): Promise<TestApp> {
  const slack = opts.shared?.slack ?? (await new FakeSlack().start());
  if (!opts.shared) for (const name of opts.seedChannels ?? ['incidents', 'ops', 'approvals', 'alerts']) slack.addChannel(name);
  const db = opts.shared?.db ?? (await createTestDatabase());
  const clock = opts.clock ?? new FakeClock(new Date());
  // Its own data directory: the default (.data in the checkout) is the developer's console
  // state, and an anchor or trial key written there by one test file broke another's audit check.
  const config = configSchema.parse({
    databaseUrl: db.url, port: 0, logLevel: 'silent', dataDir: mkdtempSync(path.join(tmpdir(), 'fb-app-data-')),
    slack: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: slack.url },
    ...opts.config,
  });
  const log = createLogger({ level: 'silent' });
  const edge = createSlackEdge(config, log);
  const app = await createApp({ config, pool: db.pool, clock, log, chat: edge.chat, replies: edge.replies, edgeRoutes: (a) => edge.attach(a), configVersion: opts.configVersion });
  const port = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;

  const postSigned: TestApp['postSigned'] = (body, contentType, o = {}) => {
    const ts = o.timestamp ?? Math.floor(Date.now() / 1000);
    return fetch(`${url}/slack/events`, {
      method: 'POST', body,
      headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(o.secret ?? SIGNING_SECRET, ts, body), ...(o.headers ?? {}) },
    });
  };

  const t: TestApp = {
    app, db, slack, clock, config, url, postSigned,
    settle: async () => {
      // Background work can start more background work and jobs; loop until quiet.
      for (let i = 0; i < 20; i++) {
        await app.ctx.background.drain(30_000);
        const ran = await app.ctx.jobs.tick();
        if (ran === 0 && app.ctx.background.size === 0) return;
      }
    },
    slash: async (line, o = {}) => {
      const [command = '', ...rest] = line.split(' ');
      const responseId = randomBytes(4).toString('hex');
      const triggerId = o.triggerId ?? `trig-${randomBytes(6).toString('hex')}`;
      const body = new URLSearchParams({
        token: 'legacy', team_id: 'T0TEST', team_domain: 'test', channel_id: o.channel ?? 'C0GENERAL', channel_name: 'general',
        user_id: o.user ?? 'U0ALICE', user_name: (o.user ?? 'U0ALICE').toLowerCase(), command, text: rest.join(' '),
        api_app_id: 'A0TEST', response_url: slack.responseUrl(responseId), trigger_id: triggerId,
      }).toString();
      const res = await postSigned(body, 'application/x-www-form-urlencoded', { headers: o.retryNum ? { 'x-slack-retry-num': String(o.retryNum), 'x-slack-retry-reason': 'http_timeout' } : {} });
      return { res, responseId, triggerId };
    },
    click: async (actionId, value, o = {}) => {
      const responseId = randomBytes(4).toString('hex');
      const payload = {
        type: 'block_actions', team: { id: 'T0TEST' }, user: { id: o.user ?? 'U0ALICE', username: 'someone' }, api_app_id: 'A0TEST',
        trigger_id: `trig-${randomBytes(6).toString('hex')}`, response_url: slack.responseUrl(responseId),
        channel: o.channel ? { id: o.channel } : undefined, container: { type: 'message', message_ts: o.messageTs, channel_id: o.channel },
        message: o.messageTs ? { ts: o.messageTs } : undefined,
        actions: [{ type: 'button', action_id: actionId, block_id: 'b', value, action_ts: o.actionTs ?? `${Date.now() / 1000}${randomBytes(2).toString('hex')}` }],
      };
      const res = await postSigned(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
      return { res, responseId };
    },
    submitView: (callbackId, values, o = {}) => {
      const state: Record<string, Record<string, unknown>> = {};
      for (const [block, v] of Object.entries(values)) {
        state[block] = { value: o.selectBlocks?.includes(block) ? { type: 'static_select', selected_option: { value: v } } : { type: 'plain_text_input', value: v } };
      }
      const payload = {
        type: 'view_submission', team: { id: 'T0TEST' }, user: { id: o.user ?? 'U0ALICE', name: 'someone' }, api_app_id: 'A0TEST',
        view: { id: o.viewId ?? `V${randomBytes(4).toString('hex')}`, callback_id: callbackId, private_metadata: o.privateMetadata ?? '', state: { values: state }, hash: 'h' },
      };
      return postSigned(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
    },
    event: (event, o = {}) => {
      const body = JSON.stringify({ type: 'event_callback', team_id: 'T0TEST', api_app_id: 'A0TEST', event_id: o.eventId ?? `Ev${randomBytes(5).toString('hex')}`, event_time: Math.floor(Date.now() / 1000), event });
      return postSigned(body, 'application/json', { headers: o.retryNum ? { 'x-slack-retry-num': String(o.retryNum), 'x-slack-retry-reason': 'http_timeout' } : {} });
    },
    stop: async () => {
      await app.stop();
      if (opts.shared) return;
      await slack.stop();
      await db.drop();
    },
  };
  return t;
}

/** `/incident declare <severity> <title>` by `user`, settled: the new incident's id and channel. */
export async function declareIncident(t: TestApp, severity: string, title: string, user = 'U0ALICE'): Promise<{ id: number; channel: string }> {
  await t.slash(`/incident declare ${severity} ${title}`, { user });
  await t.settle();
  const r = (await t.db.pool.query('SELECT * FROM incidents WHERE title = $1', [title])).rows[0];
  return { id: r.id as number, channel: r.channel_id as string };
}
