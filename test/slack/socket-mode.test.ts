/**
 * Socket Mode, end to end: the real Slack edge and app wiring with SLACK_APP_TOKEN set, joined
 * to a local fake of Slack's Socket Mode. Declare, a button press and a pin do what they do over
 * HTTP (the same scenario runs over POST /slack/events for comparison); every envelope is acked
 * with its envelope_id; a reconnect loses nothing; a redelivered envelope creates nothing twice;
 * nothing is acked before it is stored, so a replica killed after an ack has lost nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { configSchema } from '../../src/config/schema.js';
import { FakeClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createSlackEdge, type SlackEdge } from '../../src/slack/edge.js';
import { incidentEvents } from '../../src/events/log.js';
import { FakeSlack } from '../support/fake-slack.js';
import { FakeSocketMode } from '../support/fake-socket-mode.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { BOT_TOKEN, startTestApp, type TestApp } from '../support/app.js';

const APP_TOKEN = 'xapp-1-socket-test-token';

let slack: FakeSlack;
let socket: FakeSocketMode;
let db: TestDatabase;
let app: FirebreakApp;
let edge: SlackEdge;
let http: TestApp;

async function settle(a: FirebreakApp): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await a.ctx.background.drain(30_000);
    const ran = await a.ctx.jobs.tick();
    if (ran === 0 && a.ctx.background.size === 0) return;
  }
}

beforeAll(async () => {
  slack = await new FakeSlack().start();
  for (const name of ['incidents', 'ops', 'approvals', 'alerts']) slack.addChannel(name);
  socket = await new FakeSocketMode(APP_TOKEN).start(slack);
  db = await createTestDatabase();
  const config = configSchema.parse({ databaseUrl: db.url, port: 0, logLevel: 'silent', slack: { botToken: BOT_TOKEN, appToken: APP_TOKEN, apiUrl: slack.url } });
  const log = createLogger({ level: 'silent' });
  edge = createSlackEdge(config, log);
  app = await createApp({ config, pool: db.pool, clock: new FakeClock(new Date()), log, chat: edge.chat, edgeRoutes: (a) => edge.attach(a) });
  await edge.start();
  await socket.connected(1);
  http = await startTestApp();
}, 60_000);

afterAll(async () => {
  await edge?.stop();
  await app?.stop();
  await socket?.stop();
  await slack?.stop();
  await db?.drop();
  await http?.stop();
});

/** A slash command as Socket Mode carries it: the same fields as the HTTP form, as an object. */
const slashPayload = (line: string, user = 'U0ALICE', channel = 'C0GENERAL') => {
  const [command = '', ...rest] = line.split(' ');
  return {
    token: 'legacy', team_id: 'T0TEST', team_domain: 'test', channel_id: channel, channel_name: 'general', user_id: user, user_name: user.toLowerCase(),
    command, text: rest.join(' '), api_app_id: 'A0TEST', is_enterprise_install: 'false',
    response_url: slack.responseUrl(randomBytes(4).toString('hex')), trigger_id: `trig-${randomBytes(6).toString('hex')}`,
  };
};

const clickPayload = (actionId: string, value: string, user: string, channel: string, messageTs: string) => ({
  type: 'block_actions', team: { id: 'T0TEST' }, user: { id: user, username: user.toLowerCase() }, api_app_id: 'A0TEST',
  trigger_id: `trig-${randomBytes(6).toString('hex')}`, response_url: slack.responseUrl(randomBytes(4).toString('hex')),
  channel: { id: channel }, container: { type: 'message', message_ts: messageTs, channel_id: channel }, message: { ts: messageTs },
  actions: [{ type: 'button', action_id: actionId, block_id: 'b', value, action_ts: `${Date.now() / 1000}${randomBytes(2).toString('hex')}` }],
});

const eventPayload = (event: Record<string, unknown>, eventId: string) => ({
  type: 'event_callback', team_id: 'T0TEST', api_app_id: 'A0TEST', event_id: eventId, event_time: Math.floor(Date.now() / 1000), event,
});

const pinOf = (channel: string, ts: string, text: string) => ({ type: 'pin_added', user: 'U0BOB', channel_id: channel, item: { type: 'message', channel, message: { ts, text } } });

async function incidentRow(pool: TestDatabase['pool'], title: string) {
  return (await pool.query('SELECT * FROM incidents WHERE title = $1', [title])).rows[0] as { id: number; channel_id: string; commander: string } | undefined;
}

/** What people see after declare → take command → pin, read back from Slack and the database. */
async function outcome(s: FakeSlack, pool: TestDatabase['pool'], title: string) {
  const inc = (await incidentRow(pool, title))!;
  const channel = s.channel(inc.channel_id)!;
  const pins = (await incidentEvents(pool, inc.id)).filter((e) => e.type === 'incident.pinned').map((e) => (e.payload as { text: string }).text);
  return {
    channelName: channel.name,
    announced: s.messagesIn('incidents').filter((m) => m.text.includes(title)).length,
    commander: inc.commander,
    headlineShowsCommander: /Commander\*\\n<@U0BOB>/.test(JSON.stringify(s.messagesIn(inc.channel_id)[0]!.blocks)),
    pins,
  };
}

describe('Socket Mode', () => {
  it('opened its connection with the app-level token, on the configured API URL', () => {
    expect(socket.opens).toEqual([APP_TOKEN]);
  });

  it('declare, a button press and a pin behave exactly as over HTTP, each envelope acked by id', async () => {
    const title = 'Socket database down';
    const declared = await socket.deliver('slash_commands', slashPayload(`/incident declare P2 ${title}`));
    await settle(app);
    const inc = (await incidentRow(db.pool, title))!;
    expect(inc).toBeDefined();
    const headline = slack.messagesIn(inc.channel_id)[0]!;
    const clicked = await socket.deliver('interactive', clickPayload('incident.take_command', String(inc.id), 'U0BOB', inc.channel_id, headline.ts));
    await settle(app);
    slack.messages.push({ channel: inc.channel_id, ts: '1800000000.000100', text: 'p99 jumped after the config push', user: 'U0BOB' });
    const pinned = await socket.deliver('events_api', eventPayload(pinOf(inc.channel_id, '1800000000.000100', 'p99 jumped after the config push'), 'EvSOCKPIN1'));
    await settle(app);
    for (const ack of [declared, clicked, pinned]) expect(socket.delivered.map((e) => e.envelope_id)).toContain(ack.envelope_id);
    expect(socket.acks.map((a) => a.envelope_id)).toEqual(socket.delivered.map((e) => e.envelope_id));

    // The same three steps over HTTP, on an app of its own.
    await http.slash(`/incident declare P2 ${title}`);
    await http.settle();
    const viaHttp = (await incidentRow(http.db.pool, title))!;
    await http.click('incident.take_command', String(viaHttp.id), { user: 'U0BOB', channel: viaHttp.channel_id, messageTs: http.slack.messagesIn(viaHttp.channel_id)[0]!.ts });
    await http.settle();
    http.slack.messages.push({ channel: viaHttp.channel_id, ts: '1800000000.000100', text: 'p99 jumped after the config push', user: 'U0BOB' });
    await http.event(pinOf(viaHttp.channel_id, '1800000000.000100', 'p99 jumped after the config push'), { eventId: 'EvHTTPPIN1' });
    await http.settle();

    const socketOutcome = await outcome(slack, db.pool, title);
    expect(socketOutcome).toEqual(await outcome(http.slack, http.db.pool, title));
    expect(socketOutcome).toMatchObject({ channelName: expect.stringMatching(/^inc-\d{8}-socket-database-down$/), announced: 1, commander: 'U0BOB', headlineShowsCommander: true, pins: ['p99 jumped after the config push'] });
  }, 60_000);

  it('a reconnect loses nothing: envelopes sent while it reconnects arrive on the new connection', async () => {
    const before = socket.connectionCount;
    socket.disconnect('refresh_requested');
    // Slack holds what happens meanwhile and sends it once the app is back.
    const during = socket.deliver('slash_commands', slashPayload('/incident declare P3 Declared during reconnect'));
    await socket.connected(before + 1);
    await during;
    await settle(app);
    expect(socket.opens.length).toBeGreaterThanOrEqual(2);
    expect(await incidentRow(db.pool, 'Declared during reconnect')).toBeDefined();
    const after = await socket.deliver('slash_commands', slashPayload('/incident declare P3 Declared after reconnect'));
    expect(after.envelope_id).toBeTruthy();
    await settle(app);
    expect(await incidentRow(db.pool, 'Declared after reconnect')).toBeDefined();
  }, 60_000);

  it('a redelivered envelope creates nothing twice', async () => {
    const count = async (title: string) => Number((await db.pool.query('SELECT count(*) AS n FROM incidents WHERE title = $1', [title])).rows[0].n);
    const slashCmd = slashPayload('/incident declare P3 Redelivered declare');
    await socket.deliver('slash_commands', slashCmd, { envelopeId: 'env-redeliver-1' });
    await socket.deliver('slash_commands', slashCmd, { envelopeId: 'env-redeliver-1', retryAttempt: 1 });
    await socket.deliver('slash_commands', slashCmd, { envelopeId: 'env-redeliver-2', retryAttempt: 2 });
    await settle(app);
    expect(await count('Redelivered declare')).toBe(1);
    const inc = (await incidentRow(db.pool, 'Redelivered declare'))!;
    expect(slack.channels.filter((c) => c.id === inc.channel_id)).toHaveLength(1);
    expect(slack.messagesIn('incidents').filter((m) => m.text.includes('Redelivered declare'))).toHaveLength(1);

    slack.messages.push({ channel: inc.channel_id, ts: '1800000002.000100', text: 'redelivered pin', user: 'U0BOB' });
    const pin = eventPayload(pinOf(inc.channel_id, '1800000002.000100', 'redelivered pin'), 'EvSOCKPIN2');
    await socket.deliver('events_api', pin);
    await socket.deliver('events_api', pin, { retryAttempt: 1 });
    await settle(app);
    const pins = (await incidentEvents(db.pool, inc.id)).filter((e) => e.type === 'incident.pinned');
    expect(pins).toHaveLength(1);

    const headline = slack.messagesIn(inc.channel_id)[0]!;
    const click = clickPayload('incident.take_command', String(inc.id), 'U0CAROL', inc.channel_id, headline.ts);
    await socket.deliver('interactive', click);
    await socket.deliver('interactive', click, { retryAttempt: 1 });
    await settle(app);
    const taken = (await incidentEvents(db.pool, inc.id)).filter((e) => JSON.stringify(e.payload).includes('U0CAROL') && /commander|role/.test(e.type));
    expect(taken).toHaveLength(1);
  }, 60_000);

  it('acks a command and an event only once they are stored: a replica killed right after the ack has lost nothing', async () => {
    const inc = (await incidentRow(db.pool, 'Socket database down'))!;
    const stored = async (key: string) => (await db.pool.query('SELECT 1 FROM processed_requests WHERE key = $1', [key])).rowCount === 1;
    const blockedWrites = async () => Number((await db.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n);
    // Intake writes wait behind this lock; reads go on, so what is stored can be checked at the
    // very moment each ack reaches Slack (where a killed replica would have left things).
    const lock = await db.pool.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE processed_requests IN SHARE ROW EXCLUSIVE MODE');
    const storedAtAck: Record<string, boolean> = {};
    const watch = (key: string, acked: Promise<unknown>) => acked.then(async () => void (storedAtAck[key] = await stored(key)));
    const cmd = slashPayload('/incident declare P3 Acked after stored');
    slack.messages.push({ channel: inc.channel_id, ts: '1800000003.000100', text: 'stored before acked', user: 'U0BOB' });
    const watched = [
      watch(`cmd:${cmd.trigger_id}`, socket.deliver('slash_commands', cmd)),
      watch('evt:EvSOCKLOCK1', socket.deliver('events_api', eventPayload(pinOf(inc.channel_id, '1800000003.000100', 'stored before acked'), 'EvSOCKLOCK1'))),
    ];
    try {
      for (let i = 0; i < 400 && (await blockedWrites()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await blockedWrites()).toBeGreaterThan(0);
    } finally {
      await lock.query('COMMIT');
      lock.release();
    }
    await Promise.all(watched);
    expect(storedAtAck).toEqual({ [`cmd:${cmd.trigger_id}`]: true, 'evt:EvSOCKLOCK1': true });
    await settle(app);
    expect(await incidentRow(db.pool, 'Acked after stored')).toBeDefined();
    const pins = (await incidentEvents(db.pool, inc.id)).filter((e) => e.type === 'incident.pinned' && (e.payload as { text: string }).text === 'stored before acked');
    expect(pins).toHaveLength(1);
  }, 60_000);
});
