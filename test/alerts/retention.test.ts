/** Retention: resolved alerts older than alerts.retentionDays go, firing ones stay, empty groups go. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, stepAndDrain } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-01T10:00:00Z'),
    config: { alerts: { receivers: { alertmanager: { bearerToken: AM_TOKEN } }, retentionDays: 7, route: { group_by: ['alertname'], group_wait: '0s', group_interval: '0s' } } },
  });
});
afterAll(() => t.stop());

it('deletes resolved alerts past retention with their empty groups, and keeps firing ones', async () => {
  const send = (body: string) => post(t, '/webhooks/alertmanager', body, bearer(AM_TOKEN));
  await send(amBody([{ labels: { alertname: 'Old', i: '1' } }, { labels: { alertname: 'StillFiring', i: '1' } }]));
  await stepAndDrain(t, 1000, 3);
  await send(amBody([{ labels: { alertname: 'Old', i: '1' }, status: 'resolved' }]));
  await stepAndDrain(t, 1000, 3);
  t.clock.advance(6 * 86_400_000);
  await send(amBody([{ labels: { alertname: 'Recent', i: '1' }, status: 'resolved' }]));
  await t.settle();
  t.clock.advance(2 * 86_400_000);

  const r = await t.app.services.alerts.prune();
  expect(r).toEqual({ alerts: 1, groups: 1 });
  const names = (await t.db.pool.query(`SELECT labels->>'alertname' AS n FROM alerts ORDER BY 1`)).rows.map((x) => x.n);
  expect(names).toEqual(['Recent', 'StillFiring']);
  const groups = (await t.db.pool.query(`SELECT group_key FROM alert_groups ORDER BY 1`)).rows.map((x) => x.group_key);
  expect(groups.some((k: string) => k.includes('Old'))).toBe(false);
  expect(groups.some((k: string) => k.includes('StillFiring'))).toBe(true);
  // alert_group_members has no foreign keys (migration 171): retention removes the rows itself.
  const dangling = await t.db.pool.query(
    `SELECT count(*)::int AS n FROM alert_group_members m
      WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = m.alert_id) OR NOT EXISTS (SELECT 1 FROM alert_groups g WHERE g.id = m.group_id)`,
  );
  expect(dangling.rows[0].n).toBe(0);
  expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM alert_group_members`)).rows[0].n).toBeGreaterThan(0);
});
