/**
 * Maintenance windows against the real Alertmanager 0.25: a window silences its alerts at the
 * source and the silence is expired when it ends early; auto-declare is suppressed inside the
 * window only; starting and ending are audited; production services go through the change gate;
 * a window ends by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { freePort } from '../setup/global.js';
import { AM_TOKEN, GENERIC_TOKEN, bearer, post } from '../alerts/support.js';
import { startAlertmanager, type RealAlertmanager } from './am.js';

let t: TestApp;
let am: RealAlertmanager;

async function settle(ms = 0): Promise<void> {
  // Alertmanager judges silences on the real clock: Firebreak's fake one stays at or just ahead of it.
  t.clock.set(Math.max(t.clock.now().getTime() + ms, Date.now()));
  for (let i = 0; i < 3; i++) {
    await t.settle();
    t.clock.advance(1000);
  }
}
const say = async (line: string, user = 'U0ALICE') => {
  const { responseId } = await t.slash(line, { user, channel: t.slack.channel('alerts')!.id });
  await settle();
  return t.slack.replies(responseId).join('\n');
};
const fireGeneric = (fingerprint: string) =>
  post(t, '/webhooks/generic', JSON.stringify({ title: 'CheckoutErrors', severity: 'error', fingerprint, labels: { service: 'checkout', instance: fingerprint } }), bearer(GENERIC_TOKEN));
const audit = async (type: string) => (await t.db.pool.query('SELECT actor, subject, payload FROM events WHERE type = $1 ORDER BY id', [type])).rows;
const incidents = async () => (await t.db.pool.query(`SELECT id FROM incidents WHERE title = 'CheckoutErrors'`)).rows;
const message = () => t.slack.messagesIn('alerts').find((m) => !m.thread_ts && m.text.includes('CheckoutErrors'));

beforeAll(async () => {
  const port = await freePort();
  t = await startTestApp({
    config: {
      alerts: {
        receivers: { alertmanager: { bearerToken: AM_TOKEN }, generic: { bearerToken: GENERIC_TOKEN } },
        route: { group_by: ['alertname'], group_wait: '0s', group_interval: '0s', routes: [{ matchers: ['service="checkout"'], auto_declare: { severity: 'P2' } }] },
        alertmanagers: [{ name: 'main', urls: [`http://127.0.0.1:${port}`], sources: ['alertmanager'] }],
        maintenance: { productionServices: ['payments'] },
      },
      approvals: { approvers: ['U0APPROVER'] },
    },
  });
  am = await startAlertmanager(port, `${t.url}/webhooks/alertmanager`);
});
afterAll(async () => {
  await am?.stop();
  await t?.stop();
});

describe('maintenance windows', () => {
  it('production services go through the change gate: nothing starts until approved', async () => {
    const reply = await say('/alerts maintenance payments 2h card processor failover');
    expect(reply).toMatch(/needs approval: change request #(\d+)/);
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM maintenance_windows WHERE target = 'service=payments'`)).rows[0].n).toBe(0);
    expect((await am.silences()).some((x) => x.comment.includes('card processor'))).toBe(false);
    const value = t.slack.buttonValue('approvals', 'aintenance', 'change_approve');
    await t.click('change_approve', value, { user: 'U0APPROVER', channel: t.slack.channel('approvals')!.id });
    await settle();
    await settle();
    const w = (await t.db.pool.query(`SELECT id, change_id, production FROM maintenance_windows WHERE target = 'service=payments'`)).rows;
    expect(w).toHaveLength(1);
    expect(w[0].production).toBe(true);
    expect(w[0].change_id).not.toBeNull();
    expect((await am.silences()).find((x) => x.comment.includes('card processor'))?.status.state).toBe('active');
  });

  it('start: silences at the source, audited, banner on the message, no auto-declare inside the window', async () => {
    const reply = await say('/alerts maintenance checkout 1h deploy <v42>');
    expect(reply).toMatch(/Maintenance #2 on `service=checkout` until .*deploy &lt;v42&gt;/);
    const s = (await am.silences()).find((x) => x.comment.startsWith('Maintenance #2'))!;
    expect(s).toMatchObject({ createdBy: 'u0alice', comment: 'Maintenance #2: deploy <v42>', status: { state: 'active' } });
    expect(s.matchers).toEqual([{ name: 'service', value: 'checkout', isRegex: false, isEqual: true }]);
    expect((await audit('maintenance.started')).map((e) => [e.actor, e.subject, e.payload.production])).toEqual([['U0ALICE', 'maintenance:1', true], ['U0ALICE', 'maintenance:2', false]]);

    expect((await fireGeneric('co-1')).status).toBe(200);
    await settle();
    expect(JSON.stringify(message()?.blocks)).toContain('In maintenance #2');
    await settle();
    expect(await incidents()).toEqual([]);

    const listed = await t.slash('/alerts maintenance', { channel: t.slack.channel('alerts')!.id });
    await settle();
    const body = JSON.stringify(t.slack.responses.filter((r) => r.url === `/response/${listed.responseId}`).map((r) => r.body.blocks));
    expect(body).toContain('#2');
    expect(body).toContain('"action_id":"maintenance.end.0","value":"2"');
    expect(t.slack.takeViolations()).toEqual([]);
  });

  it('end early: the silence is expired, the end audited, and auto-declare works again', async () => {
    expect(await say('/alerts maintenance end 2', 'U0BOB')).toMatch(/Maintenance #2 .* ended/);
    expect((await am.silences()).find((x) => x.comment.startsWith('Maintenance #2'))!.status.state).toBe('expired');
    expect((await audit('maintenance.ended')).map((e) => [e.actor, e.payload.early])).toEqual([['U0BOB', true]]);
    expect(await say('/alerts maintenance end 2')).toMatch(/already ended/);
    await fireGeneric('co-2');
    await settle();
    expect(await incidents()).toHaveLength(1);
    expect(JSON.stringify(message()?.blocks)).not.toContain('In maintenance');
  });

  it('bad input gets a clear answer and starts nothing', async () => {
    const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM maintenance_windows')).rows[0].n;
    expect(await say('/alerts maintenance checkout 0s nothing')).toMatch(/is zero/);
    expect(await say('/alerts maintenance checkout 2h')).toMatch(/comment is required/);
    expect(await say('/alerts maintenance team=~"(" 1h x')).toMatch(/not a valid regular expression/);
    expect(await say('/alerts maintenance end 999')).toMatch(/no maintenance window #999/);
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM maintenance_windows')).rows[0].n).toBe(before);
  });

  it('a window ends by itself at its time, audited as not early', async () => {
    expect(await say('/alerts maintenance search 10m reindex')).toMatch(/Maintenance #\d+/);
    const id = (await t.db.pool.query(`SELECT id FROM maintenance_windows WHERE target = 'service=search'`)).rows[0].id;
    await settle(11 * 60_000);
    const row = (await t.db.pool.query('SELECT ended_at, ended_by FROM maintenance_windows WHERE id = $1', [id])).rows[0];
    expect(row.ended_by).toBe('firebreak');
    expect((await audit('maintenance.ended')).find((e) => e.subject === `maintenance:${id}`)!.payload.early).toBe(false);
  });

  it('a message already shown is edited when a window starts (banner) and again when it ends by itself (banner gone)', async () => {
    const billing = () => t.slack.messagesIn('alerts').filter((m) => !m.thread_ts && !m.ephemeralTo && m.text.includes('BillingLag'));
    expect((await post(t, '/webhooks/generic', JSON.stringify({ title: 'BillingLag', severity: 'warning', fingerprint: 'bl-1', labels: { service: 'billing' } }), bearer(GENERIC_TOKEN))).status).toBe(200);
    await settle();
    expect(billing()).toHaveLength(1);
    expect(JSON.stringify(billing()[0]!.blocks)).not.toContain('In maintenance');
    const updates = t.slack.callsTo('chat.update').length;

    expect(await say('/alerts maintenance billing 10m ledger migration')).toMatch(/Maintenance #\d+/);
    await settle();
    expect(billing()).toHaveLength(1);
    expect(t.slack.callsTo('chat.update').length).toBeGreaterThan(updates);
    expect(JSON.stringify(billing()[0]!.blocks)).toMatch(/In maintenance #\d+\* until .*ledger migration/);

    // The silence poll also re-renders messages whose silences changed: park it, so only the
    // window's end job can take the banner off, then let it run again for the tests after.
    const park = (shift: string) => t.db.pool.query(`UPDATE jobs SET run_at = run_at + $1::interval WHERE queue = 'silences.sync' AND status = 'pending'`, [shift]);
    expect((await park('1 day')).rowCount).toBeGreaterThan(0);
    const polls = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE queue = 'silences.sync' AND status <> 'pending'`)).rows[0].n as number;
    const [edits, polled] = [t.slack.callsTo('chat.update').length, await polls()];
    await settle(11 * 60_000);
    expect(await polls()).toBe(polled);
    await park('-1 day');
    expect(t.slack.callsTo('chat.update').length).toBeGreaterThan(edits);
    expect(billing()).toHaveLength(1);
    expect(JSON.stringify(billing()[0]!.blocks)).not.toContain('In maintenance');
  });

  it('the group message in the incident\'s channel carries the banner too', async () => {
    const [inc] = (await t.db.pool.query(`SELECT id, channel_id FROM incidents WHERE title = 'CheckoutErrors'`)).rows as { id: number; channel_id: string }[];
    expect(inc?.channel_id).toBeTruthy();
    const inRoom = () => t.slack.messagesIn(inc!.channel_id).find((m) => !m.thread_ts && !m.ephemeralTo && /^(FIRING|RESOLVED): \d* ?CheckoutErrors/.test(m.text));
    expect(inRoom()).toBeDefined();
    expect(JSON.stringify(inRoom()!.blocks)).not.toContain('In maintenance');
    expect(await say('/alerts maintenance checkout 30m rollback')).toMatch(/Maintenance #\d+/);
    await settle();
    expect(JSON.stringify(inRoom()!.blocks)).toMatch(/In maintenance #\d+\* until .*rollback/);
    expect(JSON.stringify(message()!.blocks)).toMatch(/In maintenance #\d+\* until .*rollback/);
  });
});

