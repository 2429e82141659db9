/**
 * Fuzz pass over every receiver of the real app (property-based, fast-check): slash commands,
 * interactive payloads and Events API bodies signed as Slack signs them, and Alertmanager,
 * Grafana, generic, SNS and PagerDuty webhook bodies with valid credentials, so every input
 * reaches the handlers. Properties: no 5xx (no storage fault is injected here), no crash
 * (an unhandled rejection fails the run), and every rejection is a 4xx that says what is wrong.
 * FUZZ_RUNS=<n> runs more cases per property; a failure prints the seed to replay. The suite uses
 * a fixed seed so `npm test` is the same run every time; FUZZ_SEED=<n> (or `random`) explores further.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { ALERT_ACTIONS } from '../../src/templates/alerts.js';
import { APPROVE_ACTION, BREAK_GLASS_ACTION, BREAK_GLASS_VIEW, REJECT_ACTION, REJECT_REASON_VIEW, REVIEW_ACTION } from '../../src/templates/approvals.js';
import { RETRY_PAGING_ACTION } from '../../src/templates/paging.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261203);
fc.configureGlobal({ seed: SEED });
const AM_TOKEN = 'fuzz-alertmanager-token';
const GRAFANA_TOKEN = 'fuzz-grafana-token-1';
const GENERIC_TOKEN = 'fuzz-generic-token-1';
const PD_SECRET = 'fuzz-pagerduty-secret';

/** Any text, including NUL, lone surrogates, control and right-to-left characters. */
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 60 }), fc.constantFrom('', ' ', '\u0000', '\ud800', '<!channel>', '*bold* _it_ `x`', '&lt;', 'P1', 'inc-1', '99999999999999999999', '-1', 'NaN'));
const word = fc.oneof(fc.constantFrom('P0', 'P1', 'P4', 'P9', 'inc-1', '#1', '1', '0', '-5', 'now', 'all', '--limit', '--target', 'identified', 'resolved', '<@U0ALICE>', '<#C1|x>', 'commander', 'tech'), anyText);
const SUBCOMMANDS: Record<string, string[]> = {
  '/incident': ['declare', 'update', 'status', 'severity', 'role', 'note', 'timeline', 'resolve', 'reopen', 'postmortem', 'setup', 'list', 'comms', 'oncall', 'page', 'help'],
  '/backup': ['now', 'list', 'show', 'verify', 'restore', 'expire', 'help'],
  '/dr': ['dry-run', 'drill', 'execute', 'status', 'history', 'cancel', 'help'],
  '/runbook': ['list', 'show', 'search', 'help'],
  '/change': ['request', 'list', 'show', 'review', 'help'],
  '/audit': ['verify', 'show', 'export', 'help'],
};
const slashLine = fc.constantFrom(...Object.keys(SUBCOMMANDS)).chain((command) =>
  fc.record({
    command: fc.constant(command),
    text: fc.oneof(
      fc.tuple(fc.constantFrom(...SUBCOMMANDS[command]!), fc.array(word, { maxLength: 5 })).map(([s, ws]) => [s, ...ws].join(' ')),
      anyText,
    ),
  }),
);

const jsonish = fc.jsonValue({ maxDepth: 3 });
const timestamp = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('0001-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '2026-02-30T25:61:00Z', 'yesterday', '', '\u0000'),
);
const labels = fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'severity', 'service', 'firebreak_incident', 'instance'), anyText), anyText, { maxKeys: 5 });
const promAlert = fc.record(
  { status: fc.oneof(fc.constantFrom('firing', 'resolved'), anyText), labels, annotations: labels, startsAt: timestamp, endsAt: timestamp, generatorURL: anyText, fingerprint: anyText },
  { requiredKeys: [] },
);
const alertBody = fc.oneof(
  fc.record({ version: fc.oneof(fc.constant('4'), anyText), groupKey: anyText, status: anyText, receiver: anyText, alerts: fc.array(promAlert, { maxLength: 4 }) }, { requiredKeys: [] }).map((x) => JSON.stringify(x)),
  jsonish.map((x) => JSON.stringify(x)),
  anyText,
);
const pdBody = fc.oneof(
  fc.record({
    event: fc.record({
      id: anyText, event_type: fc.oneof(fc.constantFrom('incident.triggered', 'incident.acknowledged', 'incident.resolved', 'incident.annotated', 'incident.escalated', 'pagey.ping'), anyText),
      occurred_at: timestamp, agent: fc.record({ summary: anyText }, { requiredKeys: [] }),
      data: fc.record({ id: anyText, type: fc.constantFrom('incident', 'incident_note', 'x'), incident_key: anyText, title: anyText, content: anyText, html_url: anyText, created_at: timestamp, service: fc.record({ summary: anyText, id: anyText }, { requiredKeys: [] }) }, { requiredKeys: [] }),
    }, { requiredKeys: [] }),
  }, { requiredKeys: [] }).map((x) => JSON.stringify(x)),
  jsonish.map((x) => JSON.stringify(x)),
  anyText,
);

const ACTIONS = [...Object.values(ALERT_ACTIONS), APPROVE_ACTION, REJECT_ACTION, REVIEW_ACTION, BREAK_GLASS_ACTION, RETRY_PAGING_ACTION, 'incident.take_command', 'incident.post_update'];
const VIEWS = ['incident.declare', 'incident.update', 'incident.resolve', REJECT_REASON_VIEW, BREAK_GLASS_VIEW];
const actionValue = fc.oneof(anyText, fc.constantFrom('1', '1:abc', '0', '-1', '1:', ':', '{"incidentId":1}', '999999999999999999999'));
const interactive = fc.oneof(
  fc.record({
    type: fc.constant('block_actions'),
    actions: fc.array(fc.record({ type: fc.constant('button'), action_id: fc.oneof(fc.constantFrom(...ACTIONS), anyText), block_id: anyText, value: actionValue, action_ts: fc.constant('1700000000.000001') }), { minLength: 1, maxLength: 2 }),
    channel: fc.record({ id: fc.oneof(fc.constant('C0GENERAL'), anyText) }),
    message: fc.record({ ts: fc.oneof(fc.constant('1700000001.000001'), anyText) }),
  }),
  fc.record({
    type: fc.constant('view_submission'),
    view: fc.record({
      id: fc.constant('VFUZZ'), callback_id: fc.oneof(fc.constantFrom(...VIEWS), anyText), private_metadata: fc.oneof(anyText, jsonish.map((x) => JSON.stringify(x))), hash: fc.constant('h'),
      state: fc.record({ values: fc.dictionary(fc.constantFrom('title', 'severity', 'summary', 'service', 'text', 'reason'), fc.record({ value: fc.oneof(fc.record({ type: fc.constant('plain_text_input'), value: anyText }), fc.record({ type: fc.constant('static_select'), selected_option: fc.record({ value: anyText }) })) })) }),
    }),
  }),
  fc.record({ type: anyText }, { requiredKeys: [] }),
);
const slackEvent = fc.record({
  type: fc.oneof(fc.constantFrom('app_mention', 'message', 'reaction_added', 'pin_added', 'member_joined_channel', 'channel_archive'), anyText),
  user: fc.oneof(fc.constant('U0ALICE'), anyText), text: anyText, channel: fc.oneof(fc.constant('C0GENERAL'), anyText), ts: anyText,
  reaction: fc.oneof(fc.constant('pushpin'), anyText), item: fc.record({ channel: anyText, ts: anyText }, { requiredKeys: [] }),
}, { requiredKeys: ['type'] });

describe('fuzzing every receiver of the real app', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      config: {
        alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN }, grafana: { bearerToken: GRAFANA_TOKEN }, generic: { bearerToken: GENERIC_TOKEN } } },
        paging: { webhookSecrets: [PD_SECRET] },
      },
    });
  });
  afterAll(async () => {
    await t.settle();
    await t.stop();
  });

  /** The property every answer must have. */
  async function expectHandled(res: Response, what: string): Promise<void> {
    const body = await res.text();
    expect(res.status, `${what} answered ${res.status}: ${body.slice(0, 300)}`).toBeLessThan(500);
    if (res.status >= 400) {
      // A rejection names the problem: `{ error, detail }` from the webhook receivers.
      let parsed: { error?: unknown; detail?: unknown; message?: unknown } = {};
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        /* checked below */
      }
      expect(typeof parsed.error === 'string' && parsed.error.length > 0, `${what} rejected with ${res.status} but no error code: ${body.slice(0, 200)}`).toBe(true);
      expect(typeof (parsed.detail ?? parsed.message) === 'string', `${what} rejected with ${res.status} but no message: ${body.slice(0, 200)}`).toBe(true);
    }
  }

  const post = (path: string, body: string, headers: Record<string, string>) => fetch(`${t.url}${path}`, { method: 'POST', body, headers });

  it('slash commands with any text are acknowledged, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(slashLine, fc.constantFrom('U0ALICE', 'U0BOB'), async ({ command, text }, user) => {
        const { res } = await t.slash(`${command} ${text}`, { user });
        await expectHandled(res, `${command} ${JSON.stringify(text)}`);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('interactive payloads (buttons, modal submissions, unknown types) never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(interactive, async (p) => {
        const payload = { team: { id: 'T0TEST' }, user: { id: 'U0ALICE', username: 'alice', name: 'alice' }, api_app_id: 'A0TEST', trigger_id: `trig-${randomBytes(4).toString('hex')}`, response_url: t.slack.responseUrl('fuzz'), ...p };
        const res = await t.postSigned(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
        await expectHandled(res, `payload ${JSON.stringify(p).slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('Events API bodies and a payload that is not JSON never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(slackEvent, anyText, async (event, junk) => {
        await expectHandled(await t.event(event), `event ${JSON.stringify(event).slice(0, 200)}`);
        await expectHandled(await t.postSigned(new URLSearchParams({ payload: junk }).toString(), 'application/x-www-form-urlencoded'), `payload=${JSON.stringify(junk)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('alert webhooks (Alertmanager, Grafana, generic) with any body: stored or a 4xx that says why', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(['alertmanager', AM_TOKEN], ['grafana', GRAFANA_TOKEN], ['generic', GENERIC_TOKEN]), alertBody, async ([receiver, token], body) => {
        const res = await post(`/webhooks/${receiver}`, body, { 'content-type': 'application/json', authorization: `Bearer ${token}` });
        await expectHandled(res, `${receiver} ${body.slice(0, 200)}`);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('PagerDuty webhooks with any signed body, and SNS with any body: 2xx or a 4xx that says why', async () => {
    await fc.assert(
      fc.asyncProperty(pdBody, anyText, async (body, webhookId) => {
        const sig = 'v1=' + createHmac('sha256', PD_SECRET).update(body).digest('hex');
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-pagerduty-signature': sig };
        if (/^[\x20-\x7e]+$/.test(webhookId)) headers['x-webhook-id'] = webhookId;
        await expectHandled(await post('/webhooks/pagerduty', body, headers), `pagerduty ${body.slice(0, 200)}`);
        await expectHandled(await post('/webhooks/sns', body, { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' }), `sns ${body.slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  });
});
