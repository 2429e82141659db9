/** Mute and active time intervals hold a route's notifications until the window allows them. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock, HOUR, MINUTE } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, stepAndDrain } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-14T12:00:00Z'), // a Saturday
    seedChannels: ['incidents', 'alerts', 'batch', 'office'],
    config: {
      alerts: {
        receivers: { alertmanager: { bearerToken: AM_TOKEN } },
        route: {
          group_by: ['alertname'], group_wait: '30s',
          routes: [
            { matchers: ['team="batch"'], channel: 'batch', mute_time_intervals: ['weekends'] },
            { matchers: ['team="office"'], channel: 'office', active_time_intervals: ['office-hours'] },
          ],
        },
        time_intervals: [
          { name: 'weekends', time_intervals: [{ weekdays: ['saturday', 'sunday'] }] },
          { name: 'office-hours', time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '17:00' }] }] },
        ],
      },
    },
  });
});
afterAll(() => t.stop());

const topLevel = (channel: string) => t.slack.messagesIn(channel).filter((m) => !m.thread_ts);

it('holds muted and out-of-hours routes, then posts once each window allows, while other routes post at once', async () => {
  await post(t, '/webhooks/alertmanager', amBody([
    { labels: { alertname: 'NightlyJobLate', team: 'batch' } },
    { labels: { alertname: 'PrinterOffline', team: 'office' } },
    { labels: { alertname: 'Unrouted' } },
  ]), bearer(AM_TOKEN));
  await stepAndDrain(t, 30_000);
  await stepAndDrain(t, HOUR);
  expect(topLevel('alerts')).toHaveLength(1);
  expect(topLevel('batch')).toHaveLength(0);
  expect(topLevel('office')).toHaveLength(0);
  // Monday 00:00: the weekend mute is over, office hours have not started.
  t.clock.set('2026-03-16T00:00:30Z');
  await stepAndDrain(t, MINUTE);
  expect(topLevel('batch')).toHaveLength(1);
  expect(topLevel('office')).toHaveLength(0);
  t.clock.set('2026-03-16T09:00:10Z');
  await stepAndDrain(t, MINUTE);
  expect(topLevel('office')).toHaveLength(1);
  expect(topLevel('office')[0]!.text).toBe('FIRING: 1 PrinterOffline');
});
