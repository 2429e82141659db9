/**
 * Escalation of unacknowledged alert groups (route escalate_after / escalate_to): once after
 * the time on a fake clock, not at all when acknowledged in time, once with two replicas
 * ticking the same job queue, after the replica that scheduled it is gone, and across a restart
 * of every replica.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeSlack } from '../support/fake-slack.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { AM_TOKEN, amBody, bearer, post } from './support.js';
import nock from 'nock';
import { accepted, fakeEvents, isolateNetwork } from '../paging/support.js';

const clock = new FakeClock('2026-03-09T10:00:00Z');
let db: TestDatabase;
let slack: FakeSlack;
let a: TestApp;
let b: TestApp;

const config = {
  paging: { routingKey: 'R0ESCALATION00000000000000000001', delivery: { backoffSeconds: 0, maxBackoffSeconds: 0 } },
  alerts: {
    receivers: { alertmanager: { bearerToken: AM_TOKEN } },
    route: {
      channel: 'alerts', group_by: ['alertname'], group_wait: '0s', group_interval: '1m', repeat_interval: '4h',
      routes: [
        { matchers: ['team="db"'], channel: 'db-alerts', escalate_after: '10m', escalate_to: { mention: '<!subteam^S0DBA>' } },
        { matchers: ['team="web"'], escalate_after: '5m', escalate_to: { declare: 'P2' } },
        { matchers: ['team="pay"'], escalate_after: '5m', escalate_to: { pagerduty_service: 'default' } },
      ],
    },
  },
};

beforeAll(async () => {
  // PagerDuty is faked on its real hostname; nothing else leaves the machine.
  isolateNetwork();
  db = await createTestDatabase();
  slack = await new FakeSlack().start();
  for (const c of ['incidents', 'ops', 'approvals', 'alerts', 'db-alerts']) slack.addChannel(c);
  a = await startTestApp({ clock, config, shared: { db, slack } });
  b = await startTestApp({ clock, config, shared: { db, slack } });
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await slack?.stop();
  await db?.drop();
  nock.cleanAll();
  nock.enableNetConnect();
});

const fire = (app: TestApp, alertname: string, team: string) => post(app, '/webhooks/alertmanager', amBody([{ labels: { alertname, team, severity: 'critical' } }]), bearer(AM_TOKEN));
/** Moves the shared clock, then lets both replicas run what is due. */
async function step(ms: number): Promise<void> {
  clock.advance(ms);
  for (let i = 0; i < 3; i++) {
    await Promise.all([a.settle(), b.settle()]);
    clock.advance(1000);
  }
}
const groupMessage = (channel: string, name: string) => slack.messagesIn(channel).find((m) => !m.thread_ts && m.text.includes(name));
const notices = (channel: string, name: string) => {
  const top = groupMessage(channel, name);
  return slack.messagesIn(channel).filter((m) => top && m.thread_ts === top.ts && m.text.includes('Nobody acknowledged'));
};

describe('escalate_after', () => {
  it('escalates once, in the thread, after the time and not before; both replicas tick the same job', async () => {
    expect((await fire(a, 'EscDiskFull', 'db')).status).toBe(200);
    await step(1000);
    expect(groupMessage('db-alerts', 'EscDiskFull')).toBeDefined();
    await step(8 * MINUTE);
    expect(notices('db-alerts', 'EscDiskFull')).toHaveLength(0);
    await step(2 * MINUTE);
    const sent = notices('db-alerts', 'EscDiskFull');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain('<!subteam^S0DBA>');
    await step(30 * MINUTE);
    expect(notices('db-alerts', 'EscDiskFull')).toHaveLength(1);
    // A re-run of the job (a replica died after escalating) does nothing more.
    const g = (await db.pool.query(`SELECT id, created_at FROM alert_groups WHERE group_labels->>'alertname' = 'EscDiskFull'`)).rows[0];
    const job = { id: 0, queue: 'alerts.escalate', dedupeKey: null, runAt: clock.now(), attempts: 2, requestId: null, payload: { groupId: g.id, episode: g.created_at.toISOString() } };
    await b.app.services.alerts.runEscalation(job);
    expect(notices('db-alerts', 'EscDiskFull')).toHaveLength(1);
  });

  it('does not escalate a group acknowledged in time', async () => {
    await fire(a, 'EscAcked', 'db');
    await step(1000);
    const value = /"action_id":"alerts.acknowledge","value":"(\d+)"/.exec(JSON.stringify(groupMessage('db-alerts', 'EscAcked')!.blocks))![1]!;
    await a.click('alerts.acknowledge', value, { user: 'U0BOB' });
    // The click is acknowledged at once and acted on by its job: let it land before the clock
    // moves, or a loaded run takes the escalation while the acknowledgement is still in flight.
    await a.settle();
    await step(15 * MINUTE);
    expect(notices('db-alerts', 'EscAcked')).toHaveLength(0);
    expect((await db.pool.query(`SELECT escalated_at FROM alert_groups WHERE id = $1`, [Number(value)])).rows[0].escalated_at).toBeNull();
  });

  it('un-acknowledged after its job stood down (PagerDuty said so to both replicas): escalates once, escalate_after later', async () => {
    await fire(a, 'EscReAcked', 'db');
    await step(1000);
    const value = /"action_id":"alerts.acknowledge","value":"(\d+)"/.exec(JSON.stringify(groupMessage('db-alerts', 'EscReAcked')!.blocks))![1]!;
    await a.click('alerts.acknowledge', value, { user: 'U0BOB' });
    await step(15 * MINUTE);
    expect(notices('db-alerts', 'EscReAcked')).toHaveLength(0);
    const [ra, rb] = await Promise.all([a.app.services.alerts.unacknowledge(Number(value), 'U0BOB'), b.app.services.alerts.unacknowledge(Number(value), 'U0BOB')]);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);
    await step(8 * MINUTE);
    expect(notices('db-alerts', 'EscReAcked')).toHaveLength(0);
    await step(2 * MINUTE);
    expect(notices('db-alerts', 'EscReAcked')).toHaveLength(1);
    await step(30 * MINUTE);
    expect(notices('db-alerts', 'EscReAcked')).toHaveLength(1);
  });

  it('does not escalate a group that resolved first', async () => {
    await fire(a, 'EscResolved', 'db');
    await step(1000);
    await post(a, '/webhooks/alertmanager', amBody([{ labels: { alertname: 'EscResolved', team: 'db', severity: 'critical' }, status: 'resolved' }]), bearer(AM_TOKEN));
    await step(2 * MINUTE);
    await step(10 * MINUTE);
    expect(notices('db-alerts', 'EscResolved')).toHaveLength(0);
  });

  it('does not escalate inside a maintenance window', async () => {
    const { responseId } = await a.slash('/alerts maintenance alertname="EscPlanned" 1h planned failover', { channel: slack.channel('db-alerts')!.id });
    await step(0);
    expect(slack.replies(responseId).join()).toMatch(/Maintenance #\d+/);
    await fire(a, 'EscPlanned', 'db');
    await step(1000);
    expect(JSON.stringify(groupMessage('db-alerts', 'EscPlanned')!.blocks)).toContain('In maintenance');
    await step(15 * MINUTE);
    expect(notices('db-alerts', 'EscPlanned')).toHaveLength(0);
  });

  it('escalate_to pagerduty_service sends one Events API trigger to that service', async () => {
    const events = fakeEvents([accepted()]);
    await fire(a, 'EscPayments', 'pay');
    await step(1000);
    await step(6 * MINUTE);
    expect(events.bodies).toHaveLength(1);
    expect(events.bodies[0]).toMatchObject({ routing_key: 'R0ESCALATION00000000000000000001', event_action: 'trigger', payload: { severity: 'critical' } });
    expect(String((events.bodies[0] as { payload: { summary: string } }).payload.summary)).toMatch(/^Not acknowledged after 5m.*: EscPayments \(1 firing\)$/);
    expect(notices('alerts', 'EscPayments').map((m) => m.text).join()).toContain('paged *default* on PagerDuty');
  });

  it('survives the replica that scheduled it: another replica escalates (declare at a severity)', async () => {
    // The declared incident pages the default service.
    fakeEvents([accepted()]);
    await fire(b, 'EscCheckout', 'web');
    await step(1000);
    expect(groupMessage('alerts', 'EscCheckout')).toBeDefined();
    // The replica that posted and scheduled the escalation stops; a fresh one starts.
    await b.stop();
    b = await startTestApp({ clock, config, shared: { db, slack } });
    await step(6 * MINUTE);
    const inc = (await db.pool.query(`SELECT id, severity FROM incidents WHERE title = 'EscCheckout'`)).rows;
    expect(inc).toHaveLength(1);
    expect(inc[0].severity).toBe('P2');
    expect(notices('alerts', 'EscCheckout').map((m) => m.text).join()).toContain(`declared INC-${inc[0].id} (P2)`);
  });
});

describe('escalation across a restart', () => {
  it('every replica stops before the time; after the restart the escalation fires once, even with two replicas back', async () => {
    await fire(a, 'EscRestart', 'db');
    await step(1000);
    expect(groupMessage('db-alerts', 'EscRestart')).toBeDefined();
    await step(3 * MINUTE);
    // The whole deployment goes down (not one replica of two): only PostgreSQL remembers the job.
    await a.stop();
    await b.stop();
    clock.advance(10 * MINUTE);
    a = await startTestApp({ clock, config, shared: { db, slack } });
    b = await startTestApp({ clock, config, shared: { db, slack } });
    await step(1000);
    await step(30 * MINUTE);
    const sent = notices('db-alerts', 'EscRestart');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain('<!subteam^S0DBA>');
    expect((await db.pool.query(`SELECT escalated_at FROM alert_groups WHERE group_labels->>'alertname' = 'EscRestart'`)).rows[0].escalated_at).not.toBeNull();
  });
});

describe('escalation config', () => {
  it('refuses escalate_after without escalate_to, zero or negative times, and escalate_to with two targets', async () => {
    const { configSchema } = await import('../../src/config/schema.js');
    const problems = (route: Record<string, unknown>) => {
      const r = configSchema.safeParse({ alerts: { route } });
      return r.success ? '' : JSON.stringify(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
    };
    expect(problems({ routes: [{ matchers: ['a="b"'], escalate_after: '10m' }] })).toContain('escalate_after needs escalate_to');
    expect(problems({ routes: [{ matchers: ['a="b"'], escalate_after: '0s', escalate_to: { mention: '@here' } }] })).toContain('must be longer than zero');
    expect(problems({ routes: [{ matchers: ['a="b"'], escalate_after: '-5m', escalate_to: { mention: '@here' } }] })).toContain('not a duration');
    expect(problems({ escalate_to: { mention: '@here', declare: 'P1' } })).toContain('exactly one');
    // Inherited: a child may set only the time when its parent says where.
    expect(problems({ escalate_to: { declare: 'P2' }, routes: [{ matchers: ['a="b"'], escalate_after: '10m' }] })).toBe('');
  });
});
