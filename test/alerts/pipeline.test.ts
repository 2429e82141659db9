/**
 * Alerts end to end: webhook in, stored, routed, one message per group in the routed
 * channel, updated in place, buttons, incidents. Slack is faked over HTTP; time is a FakeClock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock, HOUR, MINUTE } from '../../src/clock.js';
import { incidentEvents } from '../../src/events/log.js';
import { AM_TOKEN, GENERIC_TOKEN, amBody, bearer, post, step, stepAndDrain, text } from './support.js';

const GRAFANA_SECRET = 'grafana-hmac-secret-1';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'), // a Monday
    seedChannels: ['incidents', 'ops', 'alerts', 'db-alerts', 'web-alerts'],
    config: {
      alerts: {
        receivers: {
          alertmanager: { bearerToken: AM_TOKEN, basicUsername: 'alertmanager', basicPassword: 'basic-pass-123' },
          grafana: { signatureSecret: GRAFANA_SECRET },
          generic: { bearerToken: GENERIC_TOKEN },
        },
        maxBodyBytes: 64 * 1024,
        route: {
          channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h',
          routes: [
            { matchers: ['team="db"'], channel: 'db-alerts', mentions: ['<!subteam^S0DBA>'] },
            { matchers: ['team="web"', 'severity="critical"'], channel: 'web-alerts', auto_declare: { severity: 'P1' } },
            // Two routes for one alert: it belongs to two groups (and reaches an incident once).
            { matchers: ['team="payments"'], channel: 'alerts', continue: true },
            { matchers: ['team="payments"'], channel: 'db-alerts' },
          ],
        },
        inhibit_rules: [{ source_matchers: ['alertname="DatacenterDown"'], target_matchers: ['severity="warning"'], equal: ['dc'] }],
      },
    },
  });
});
afterAll(() => t.stop());

const am = (body: string) => post(t, '/webhooks/alertmanager', body, bearer(AM_TOKEN));
const count = async (sql: string, params: unknown[] = []) => Number((await t.db.pool.query(sql, params)).rows[0].n);
const topLevel = (channel: string) => t.slack.messagesIn(channel).filter((m) => !m.thread_ts && !m.ephemeralTo);

describe('one grouped message per alert group', () => {
  const db = (instance: string, status: 'firing' | 'resolved' = 'firing') => ({
    labels: { alertname: 'ReplicationLag', team: 'db', severity: 'warning', instance },
    annotations: { summary: 'Replica lag above 30s', runbook_url: 'https://runbooks.example/db/replication-lag' },
    status,
  });

  it('stores before answering, then posts once after group_wait', async () => {
    const res = await am(amBody([db('pg-1'), db('pg-2'), db('pg-3')]));
    expect(res.status).toBe(200);
    // The answer says where the alerts go and how long group_wait keeps them quiet.
    expect(await res.json()).toEqual({ status: 'accepted', alerts: 3, new: 3, duplicates: 0, notify: [{ channel: 'db-alerts', groupWaitSeconds: 30 }] });
    // Stored by the time the 200 arrived: nothing acknowledged can be lost.
    expect(await count(`SELECT count(*) AS n FROM alerts WHERE labels->>'alertname' = 'ReplicationLag'`)).toBe(3);
    await t.settle();
    expect(topLevel('db-alerts')).toHaveLength(0); // group_wait not over
    await step(t, 30_000);
    const msgs = topLevel('db-alerts');
    expect(msgs).toHaveLength(1);
    const body = text(msgs[0]);
    expect(body).toContain('FIRING: 3');
    expect(body).toContain('pg-1');
    expect(body).toContain('<!subteam^S0DBA>');
    expect(body).toContain('https://runbooks.example/db/replication-lag');
    for (const id of ['alerts.declare', 'alerts.acknowledge', 'alerts.silence']) expect(body).toContain(id);
  });

  it('re-deliveries and the other half of an HA pair update nothing and post nothing', async () => {
    const posts = t.slack.callsTo('chat.postMessage').length;
    for (let i = 0; i < 2; i++) {
      const res = await am(amBody([db('pg-1'), db('pg-2'), db('pg-3')]));
      expect(await res.json()).toMatchObject({ new: 0, duplicates: 3 });
    }
    await step(t, 5 * MINUTE);
    expect(t.slack.callsTo('chat.postMessage').length).toBe(posts);
    expect(await count(`SELECT count(*) AS n FROM alerts WHERE labels->>'alertname' = 'ReplicationLag'`)).toBe(3);
    expect(await count(`SELECT max(received_count) AS n FROM alerts WHERE labels->>'alertname' = 'ReplicationLag'`)).toBe(3);
  });

  it('a new alert joining the group updates the message in place; later changes wait for group_interval', async () => {
    // The last notification was over group_interval ago, so this change goes out at once.
    await am(amBody([db('pg-4')]));
    await step(t, 1000);
    expect(text(topLevel('db-alerts')[0])).toContain('FIRING: 4');
    await am(amBody([db('pg-5')]));
    await step(t, 2 * MINUTE);
    expect(text(topLevel('db-alerts')[0])).toContain('FIRING: 4'); // group_interval not over
    await step(t, 3 * MINUTE);
    const msgs = topLevel('db-alerts');
    expect(msgs).toHaveLength(1);
    expect(text(msgs[0])).toContain('FIRING: 5');
  });

  it('resolution updates the same message to RESOLVED', async () => {
    await am(amBody(['pg-1', 'pg-2', 'pg-3', 'pg-4', 'pg-5'].map((i) => db(i, 'resolved'))));
    await step(t, 5 * MINUTE);
    const msgs = topLevel('db-alerts');
    expect(msgs).toHaveLength(1);
    expect(text(msgs[0])).toContain('RESOLVED');
    expect(text(msgs[0])).not.toContain('alerts.acknowledge');
  });

  it('firing again after resolution starts a new message (a new episode)', async () => {
    await am(amBody([{ ...db('pg-1'), startsAt: '2026-03-09T11:00:00Z' }]));
    await step(t, 30_000);
    const msgs = topLevel('db-alerts');
    expect(msgs).toHaveLength(2);
    expect(text(msgs[1])).toContain('FIRING: 1');
    expect(text(msgs[0])).toContain('RESOLVED');
  });

  it('reminds in the thread after repeat_interval while still firing', async () => {
    await step(t, 4 * HOUR);
    const [, current] = topLevel('db-alerts');
    const thread = t.slack.messagesIn('db-alerts').filter((m) => m.thread_ts === current!.ts);
    expect(thread.map((m) => m.text).join('\n')).toMatch(/Still firing: 1 alert/);
  });
});

describe('concurrent deliveries', () => {
  it('an HA pair delivering the same alerts at the same instant, in different orders, stores each once', async () => {
    const alerts = Array.from({ length: 50 }, (_, i) => ({ labels: { alertname: 'HaPair', instance: `i-${i}` } }));
    const bodies = Array.from({ length: 10 }, (_, k) => amBody(k % 2 ? [...alerts].reverse() : alerts));
    const res = await Promise.all(bodies.map((b) => am(b)));
    expect(res.map((r) => r.status)).toEqual(Array(10).fill(200));
    const outcomes = (await Promise.all(res.map((r) => r.json()))) as { new: number; duplicates: number }[];
    expect(outcomes.reduce((n, o) => n + o.new, 0)).toBe(50);
    expect(outcomes.reduce((n, o) => n + o.duplicates, 0)).toBe(450);
    expect(await count(`SELECT count(*) AS n FROM alerts WHERE labels->>'alertname' = 'HaPair'`)).toBe(50);
    await stepAndDrain(t, 30_000, 5);
    expect(topLevel('alerts').filter((m) => m.text === 'FIRING: 50 HaPair')).toHaveLength(1);
  });
});

describe('receivers refuse what they must', () => {
  it.each([
    ['no credentials', {}, 401, 'missing_credentials'],
    ['wrong bearer token', bearer('not-the-token-123'), 401, 'invalid_credentials'],
    ['wrong basic password', { authorization: `Basic ${Buffer.from('alertmanager:nope').toString('base64')}` }, 401, 'invalid_credentials'],
  ])('alertmanager: %s → %i', async (_n, headers, status, error) => {
    const before = await count('SELECT count(*) AS n FROM alerts');
    const res = await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'AuthProbe' } }]), headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error });
    expect(await count('SELECT count(*) AS n FROM alerts')).toBe(before);
  });

  it('alertmanager accepts basic auth as configured', async () => {
    const res = await post(t, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'BasicAuthOk' } }]), {
      authorization: `Basic ${Buffer.from('alertmanager:basic-pass-123').toString('base64')}`,
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['not JSON', '{"version":', 400, /invalid_json/, /not valid JSON/],
    ['empty body', '', 400, /empty_body/, /no body/],
    ['wrong webhook version', JSON.stringify({ version: '3', alerts: [] }), 422, /invalid_payload/, /version must be "4"/],
    ['alert without labels', amBody([{ labels: {} }]), 422, /invalid_payload/, /alerts\[0\]\.labels: at least one label/],
    ['bad status', amBody([{ labels: { a: 'b' }, status: 'burning' as 'firing' }]), 422, /invalid_payload/, /alerts\[0\]\.status/],
    ['bad timestamp', amBody([{ labels: { a: 'b' }, startsAt: 'yesterday' }]), 422, /invalid_payload/, /alerts\[0\]\.startsAt: an RFC 3339 timestamp/],
  ])('alertmanager: %s → %i naming the problem', async (_n, body, status, error, detail) => {
    const res = await am(body);
    expect(res.status).toBe(status);
    const j = (await res.json()) as { error: string; detail: string };
    expect(j.error).toMatch(error);
    expect(j.detail).toMatch(detail);
  });

  it('refuses bodies over alerts.maxBodyBytes with 413', async () => {
    const big = amBody(Array.from({ length: 400 }, (_, i) => ({ labels: { alertname: 'Big', i: String(i), pad: 'x'.repeat(200) } })));
    const res = await am(big);
    expect(res.status).toBe(413);
    expect(await count(`SELECT count(*) AS n FROM alerts WHERE labels->>'alertname' = 'Big'`)).toBe(0);
  });

  it('grafana: verifies the HMAC signature over the raw body', async () => {
    const body = JSON.stringify({
      receiver: 'firebreak', status: 'firing', version: '1', orgId: 1,
      alerts: [{ status: 'firing', labels: { alertname: 'GrafanaCPU', grafana_folder: 'infra' }, annotations: { summary: 'CPU high' }, startsAt: '2026-03-09T10:00:00Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: 'abc123', generatorURL: 'https://grafana.example/alerting/grafana/x/view' }],
    });
    const good = createHmac('sha256', GRAFANA_SECRET).update(body).digest('hex');
    expect((await post(t, '/webhooks/grafana', body)).status).toBe(401);
    const bad = await post(t, '/webhooks/grafana', body, { 'x-grafana-alerting-signature': createHmac('sha256', 'other-secret').update(body).digest('hex') });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_signature' });
    const ok = await post(t, '/webhooks/grafana', body, { 'x-grafana-alerting-signature': good });
    expect(ok.status).toBe(200);
    const row = (await t.db.pool.query(`SELECT source, fingerprint, annotations FROM alerts WHERE labels->>'alertname' = 'GrafanaCPU'`)).rows[0];
    expect(row).toMatchObject({ source: 'grafana', fingerprint: 'abc123', annotations: { summary: 'CPU high' } });
  });

  it('generic: accepts the documented shape and names missing fields', async () => {
    const bad = await post(t, '/webhooks/generic', JSON.stringify({ severity: 'critical' }), bearer(GENERIC_TOKEN));
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/title/);
    const noAuth = await post(t, '/webhooks/generic', JSON.stringify({ title: 'x' }));
    expect(noAuth.status).toBe(401);
    const ok = await post(t, '/webhooks/generic', JSON.stringify({
      title: 'Disk almost full', severity: 'warning', labels: { host: 'db-1' }, annotations: { runbook_url: 'https://runbooks.example/disk' }, fingerprint: 'disk-db-1',
    }), bearer(GENERIC_TOKEN));
    expect(ok.status).toBe(200);
    const row = (await t.db.pool.query(`SELECT source, status, labels, annotations FROM alerts WHERE fingerprint = 'disk-db-1'`)).rows[0];
    expect(row).toMatchObject({ source: 'generic', status: 'firing', labels: { alertname: 'Disk almost full', severity: 'warning', host: 'db-1' } });
    // Re-sent a minute later without a start time: a duplicate, not a new occurrence.
    t.clock.advance(60_000);
    const again = await post(t, '/webhooks/generic', JSON.stringify({ title: 'Disk almost full', severity: 'warning', labels: { host: 'db-1' }, annotations: { runbook_url: 'https://runbooks.example/disk' }, fingerprint: 'disk-db-1' }), bearer(GENERIC_TOKEN));
    expect(await again.json()).toMatchObject({ new: 0, duplicates: 1 });
    const resolved = await post(t, '/webhooks/generic', JSON.stringify({ title: 'Disk almost full', status: 'resolved', fingerprint: 'disk-db-1' }), bearer(GENERIC_TOKEN));
    expect(resolved.status).toBe(200);
    expect((await t.db.pool.query(`SELECT status FROM alerts WHERE fingerprint = 'disk-db-1'`)).rows[0].status).toBe('resolved');
  });

  it('answers 405 for GET and 404 for other receivers', async () => {
    expect((await fetch(`${t.url}/webhooks/alertmanager`)).status).toBe(405);
    expect((await post(t, '/webhooks/nagios', '{}')).status).toBe(404);
  });
});

describe('buttons on the group message', () => {
  let groupId: string;
  let ts: string;
  it('Acknowledge marks the group and stops reminders', async () => {
    await am(amBody([{ labels: { alertname: 'QueueBacklog', severity: 'critical', queue: 'mail' }, annotations: { summary: 'Mail queue backlog' } }]));
    await stepAndDrain(t, 30_000);
    const msg = topLevel('alerts').find((m) => m.text.includes('QueueBacklog'))!;
    expect(msg).toBeDefined();
    ts = msg.ts;
    groupId = /"action_id":"alerts.acknowledge","value":"(\d+)"/.exec(JSON.stringify(msg.blocks))![1]!;
    const { responseId } = await t.click('alerts.acknowledge', groupId, { user: 'U0BOB', channel: t.slack.channel('alerts')!.id, messageTs: ts });
    await stepAndDrain(t, 1000);
    expect(t.slack.replies(responseId).join()).toMatch(/You acknowledged \*QueueBacklog\*/);
    const updated = topLevel('alerts').find((m) => m.ts === ts)!;
    expect(text(updated)).toContain('acknowledged by <@U0BOB>');
    expect(text(updated)).not.toContain('alerts.acknowledge');
    const again = await t.click('alerts.acknowledge', groupId, { user: 'U0CAROL' });
    await t.settle();
    expect(t.slack.replies(again.responseId).join()).toMatch(/Already acknowledged by <@U0BOB>/);
  });

  it('Silence opens the modal; alerts whose source has no silences are muted in Firebreak only, and the message says so', async () => {
    await t.click('alerts.silence', groupId, { user: 'U0BOB', channel: t.slack.channel('alerts')!.id, messageTs: ts });
    await t.settle();
    const view = t.slack.views.at(-1)!.view as { callback_id: string; private_metadata: string; blocks: unknown[] };
    expect(view.callback_id).toBe('alerts.silence');
    expect(JSON.stringify(view.blocks)).toContain('have no silences at the source');
    expect(JSON.stringify(view.blocks)).not.toContain('"block_id":"matchers"');
    await t.submitView('alerts.silence', { duration: '1h', custom_duration: '', comment: 'known backlog' }, { user: 'U0BOB', privateMetadata: view.private_metadata, selectBlocks: ['duration'] });
    await stepAndDrain(t, 1000);
    const shown = text(topLevel('alerts').find((m) => m.ts === ts));
    expect(shown).toMatch(/muted in Firebreak only by <@U0BOB> until/);
    expect(shown).toContain('alerts.unmute');
  });

  it('Declare incident declares once, with the severity the labels map to, and attaches the group', async () => {
    const { responseId } = await t.click('alerts.declare', groupId, { user: 'U0BOB' });
    await stepAndDrain(t, 1000);
    const inc = (await t.db.pool.query(`SELECT * FROM incidents WHERE title = 'QueueBacklog'`)).rows;
    expect(inc).toHaveLength(1);
    expect(inc[0].severity).toBe('P1'); // severity=critical maps to P1
    expect(t.slack.replies(responseId).join()).toContain(`INC-${inc[0].id}`);
    const second = await t.click('alerts.declare', groupId, { user: 'U0CAROL' });
    await t.settle();
    expect(t.slack.replies(second.responseId).join()).toMatch(/already part of INC-/);
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM incidents WHERE title = 'QueueBacklog'`)).rows[0].n).toBe(1);
    expect(text(topLevel('alerts').find((m) => m.ts === ts))).toContain(`part of INC-${inc[0].id}`);
    // The group's message also appears in the incident channel, and the alert on its timeline.
    expect(text(t.slack.messagesIn(inc[0].channel_id).find((m) => m.text.startsWith('FIRING: 1 QueueBacklog')))).toContain('FIRING: 1');
    const types = (await incidentEvents(t.db.pool, inc[0].id)).map((e) => e.type);
    expect(types).toContain('alert.firing');
  });

  it('tells the user when the group does not exist', async () => {
    const { responseId } = await t.click('alerts.acknowledge', '999999', { user: 'U0BOB' });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toMatch(/no longer exists/);
  });
});

describe('incidents from alerts', () => {
  const web = (instance: string, status: 'firing' | 'resolved' = 'firing', startsAt = '2026-03-09T10:00:00Z') => ({
    labels: { alertname: 'CheckoutErrors', team: 'web', severity: 'critical', instance }, annotations: { summary: 'Checkout 5xx above 5%' }, status, startsAt,
  });
  const incidentsFor = async () => (await t.db.pool.query(`SELECT * FROM incidents WHERE title = 'CheckoutErrors' ORDER BY id`)).rows;

  it('auto_declare declares one incident per group, at most', async () => {
    await am(amBody([web('w1'), web('w2')]));
    await stepAndDrain(t, 30_000);
    let incs = await incidentsFor();
    expect(incs).toHaveLength(1);
    expect(incs[0]).toMatchObject({ severity: 'P1', declared_by: 'alert:alertmanager', status: 'investigating' });
    await am(amBody([web('w3')]));
    await stepAndDrain(t, 5 * MINUTE);
    incs = await incidentsFor();
    expect(incs).toHaveLength(1);
    const incChannel = incs[0].channel_id as string;
    const inIncident = t.slack.messagesIn(incChannel).filter((m) => /^(FIRING|RESOLVED).*CheckoutErrors/.test(m.text));
    expect(inIncident).toHaveLength(1); // one message, updated in place
    expect(text(inIncident[0])).toContain('FIRING: 3');
    const timeline = (await incidentEvents(t.db.pool, incs[0].id)).filter((e) => e.type === 'alert.firing');
    expect(timeline).toHaveLength(3);
  });

  it('all alerts resolving posts in the incident channel but leaves the incident open', async () => {
    await am(amBody([web('w1', 'resolved'), web('w2', 'resolved'), web('w3', 'resolved')]));
    await stepAndDrain(t, 5 * MINUTE);
    const [inc] = await incidentsFor();
    expect(inc.status).toBe('investigating');
    expect(t.slack.messagesIn(inc.channel_id).map((m) => m.text).join('\n')).toMatch(/All alerts of CheckoutErrors resolved/);
    expect((await incidentEvents(t.db.pool, inc.id)).filter((e) => e.type === 'alert.resolved')).toHaveLength(3);
  });

  it('after the incident is resolved, a new episode declares again only after the cool-down', async () => {
    await t.db.pool.query(`UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE title = 'CheckoutErrors'`);
    await am(amBody([web('w1', 'firing', '2026-03-09T10:20:00Z')]));
    await stepAndDrain(t, 30_000);
    expect(await incidentsFor()).toHaveLength(1); // inside the 1 h cool-down
    await am(amBody([web('w1', 'resolved', '2026-03-09T10:20:00Z')]));
    await stepAndDrain(t, 5 * MINUTE);
    await step(t, HOUR);
    await am(amBody([web('w1', 'firing', '2026-03-09T11:40:00Z')]));
    await stepAndDrain(t, 30_000);
    expect(await incidentsFor()).toHaveLength(2);
  });

  it('a declare that fails is retried, not swallowed by the cool-down', async () => {
    // Fault injection in the real database: the first insert of this incident fails.
    await t.db.pool.query(`CREATE SEQUENCE flaky_declare_seq;
      CREATE FUNCTION flaky_declare() RETURNS trigger AS $$ BEGIN
        IF NEW.title = 'FlakyDeclare' AND nextval('flaky_declare_seq') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF;
        RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER flaky_declare BEFORE INSERT ON incidents FOR EACH ROW EXECUTE FUNCTION flaky_declare();`);
    const flaky = async () => (await t.db.pool.query(`SELECT id FROM incidents WHERE title = 'FlakyDeclare'`)).rows;
    await am(amBody([{ labels: { alertname: 'FlakyDeclare', team: 'web', severity: 'critical' } }]));
    await step(t, 30_000);
    expect(await flaky()).toHaveLength(0);
    expect(topLevel('web-alerts').some((m) => m.text === 'FIRING: 1 FlakyDeclare')).toBe(true);
    await stepAndDrain(t, 30_000);
    expect(await flaky()).toHaveLength(1);
    expect((await t.db.pool.query('SELECT last_value FROM flaky_declare_seq')).rows[0].last_value).toBe(2);
  });

  it('an alert labelled with an open incident goes to its channel and timeline', async () => {
    await t.slash('/incident declare P2 Payments degraded');
    await t.settle();
    const inc = (await t.db.pool.query(`SELECT * FROM incidents WHERE title = 'Payments degraded'`)).rows[0];
    await am(amBody([{ labels: { alertname: 'PaymentsLatency', team: 'payments', firebreak_incident: `INC-${inc.id}` }, annotations: { summary: 'p99 above 2s' } }]));
    await stepAndDrain(t, 1000);
    const groups = (await t.db.pool.query(`SELECT incident_id FROM alert_groups WHERE group_key LIKE '%PaymentsLatency%'`)).rows;
    expect(groups).toEqual([{ incident_id: inc.id }, { incident_id: inc.id }]);
    expect((await incidentEvents(t.db.pool, inc.id)).filter((e) => e.type === 'alert.firing')).toHaveLength(1);
    expect(text(t.slack.messagesIn(inc.channel_id).find((m) => m.text.startsWith('FIRING: 1 PaymentsLatency')))).toContain('FIRING: 1');
    const ev = (await incidentEvents(t.db.pool, inc.id)).find((e) => e.type === 'alert.firing');
    expect(ev?.payload.text).toBe('Alert firing: p99 above 2s');
  });
});

describe('inhibition', () => {
  it('an inhibited alert is held back while its source fires', async () => {
    await am(amBody([
      { labels: { alertname: 'DatacenterDown', dc: 'eu', severity: 'critical' } },
      { labels: { alertname: 'DiskSlow', dc: 'eu', severity: 'warning' } },
      { labels: { alertname: 'DiskSlowUS', dc: 'us', severity: 'warning' } },
    ]));
    await stepAndDrain(t, 30_000);
    const names = topLevel('alerts').map((m) => m.text);
    expect(names.some((n) => n.includes('DatacenterDown'))).toBe(true);
    expect(names.some((n) => n.includes('DiskSlowUS'))).toBe(true);
    expect(names.some((n) => /DiskSlow$/.test(n))).toBe(false);
    await am(amBody([{ labels: { alertname: 'DatacenterDown', dc: 'eu', severity: 'critical' }, status: 'resolved' }]));
    await stepAndDrain(t, 5 * MINUTE);
    await stepAndDrain(t, 5 * MINUTE);
    expect(topLevel('alerts').some((m) => /FIRING: 1 DiskSlow$/.test(m.text))).toBe(true);
  });
});

describe('failures lose nothing', () => {
  it('answers 503 (so the sender retries) when alerts cannot be stored, and 200 once they can', async () => {
    await t.db.pool.query('ALTER TABLE alerts RENAME TO alerts_away');
    try {
      const res = await am(amBody([{ labels: { alertname: 'StoreDown' } }]));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await t.db.pool.query('ALTER TABLE alerts_away RENAME TO alerts');
    }
    expect((await am(amBody([{ labels: { alertname: 'StoreDown' } }]))).status).toBe(200);
  });

  it('a post to a channel that does not exist fails once, for good, and the ops channel is told the fix once', async () => {
    await t.settle();
    const opsNotices = () => t.slack.messagesIn('ops').filter((m) => m.text.includes('Alerts routed to #db-alerts cannot be posted'));
    await am(amBody([{ labels: { alertname: 'NoChannelYet', team: 'db' } }]));
    t.slack.fail('chat.postMessage', 'channel_not_found', { times: 2, channel: t.slack.channel('db-alerts')!.id });
    await stepAndDrain(t, 30_000, 2);
    const rows = (await t.db.pool.query(`SELECT 1 FROM alert_outbox o JOIN alert_groups g ON g.id = o.group_id WHERE g.group_key LIKE '%NoChannelYet%' AND o.kind = 'message'`)).rows;
    expect(rows).toEqual([]);
    expect(opsNotices().map((m) => m.text)).toEqual([expect.stringMatching(/\(channel_not_found\): create #db-alerts and invite the bot, or change the route in alerts\.route/)]);
    // Nothing retries it: later steps make no further attempt at that channel.
    const attempts = t.slack.callsTo('chat.postMessage').filter((c) => c.channel === t.slack.channel('db-alerts')!.id).length;
    await stepAndDrain(t, 60_000, 2);
    expect(t.slack.callsTo('chat.postMessage').filter((c) => c.channel === t.slack.channel('db-alerts')!.id)).toHaveLength(attempts);
    // A second group for the same missing channel does not repeat the notice.
    await am(amBody([{ labels: { alertname: 'NoChannelStill', team: 'db' } }]));
    await stepAndDrain(t, 30_000, 2);
    expect(opsNotices()).toHaveLength(1);
  });
});

describe('an auto-declared incident whose setup failed first', () => {
  it('still gets its alert group message once the setup succeeds, whichever replica runs the retry', async () => {
    // The channel cannot be made at first: the setup job retries later (on any replica). The
    // group follows the incident into its channel from that retry, not from the declaring call.
    t.slack.fail('conversations.create', 'service_unavailable', { times: 1 });
    await am(amBody([{ labels: { alertname: 'CartErrors', team: 'web', severity: 'critical', instance: 'c1' }, annotations: { summary: 'Cart 5xx' } }]));
    await stepAndDrain(t, 30_000);
    const inc = (await t.db.pool.query(`SELECT * FROM incidents WHERE title = 'CartErrors'`)).rows[0];
    expect(inc).toBeDefined();
    await stepAndDrain(t, 10_000);
    const after = (await t.db.pool.query(`SELECT * FROM incidents WHERE id = $1`, [inc.id])).rows[0];
    expect(after.channel_id).not.toBeNull();
    // The channel came from the retry, not from the first run.
    const job = (await t.db.pool.query(`SELECT attempts FROM jobs WHERE dedupe_key = $1`, [`incident.setup:${inc.id}`])).rows[0];
    expect(job.attempts).toBe(2);
    const inIncident = t.slack.messagesIn(after.channel_id).filter((m) => /^(FIRING|RESOLVED).*CartErrors/.test(m.text));
    expect(inIncident).toHaveLength(1);
  });
});
