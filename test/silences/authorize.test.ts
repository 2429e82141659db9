/**
 * Who may silence, unsilence and run maintenance: alerts.silences.allowedUsers/allowedGroups.
 * Everyone else is refused with a clear message, and nothing is created.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { GENERIC_TOKEN, bearer, post } from '../alerts/support.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    config: {
      alerts: {
        receivers: { generic: { bearerToken: GENERIC_TOKEN } },
        route: { group_wait: '0s' },
        silences: { allowedUsers: ['U0ONCALL'], allowedGroups: ['S0SRE'] },
      },
    },
  });
  t.slack.userGroups.set('S0SRE', ['U0SRE']);
});
afterAll(() => t.stop());

const answer = async (line: string, user: string) => {
  const { responseId } = await t.slash(line, { user });
  await t.settle();
  return t.slack.replies(responseId).join();
};

it('refuses people outside the allowed users and groups, everywhere, and creates nothing', async () => {
  await post(t, '/webhooks/generic', JSON.stringify({ title: 'QueueStuck', fingerprint: 'q-1' }), bearer(GENERIC_TOKEN));
  for (let i = 0; i < 3; i++) {
    t.clock.advance(1000);
    await t.settle();
  }
  const groupId = t.slack.buttonValue('alerts', 'QueueStuck', 'alerts.silence');

  const click = await t.click('alerts.silence', groupId, { user: 'U0MALLORY' });
  await t.settle();
  expect(t.slack.replies(click.responseId).join()).toMatch(/not allowed to silence/);
  expect(t.slack.views).toHaveLength(0);
  expect(await answer('/alerts maintenance alertname="QueueStuck" 1h nope', 'U0MALLORY')).toMatch(/not allowed to run maintenance/);
  expect(await answer('/alerts silence alertname="QueueStuck" 1h nope', 'U0MALLORY')).toMatch(/not allowed/);
  expect((await t.db.pool.query('SELECT count(*)::int AS n FROM maintenance_windows')).rows[0].n).toBe(0);

  // A listed user and a member of an allowed group may.
  expect(await answer('/alerts maintenance alertname="QueueStuck" 1h planned', 'U0ONCALL')).toMatch(/Maintenance #1/);
  expect(await answer('/alerts maintenance end 1', 'U0MALLORY')).toMatch(/not allowed/);
  expect(await answer('/alerts maintenance end 1', 'U0SRE')).toMatch(/Maintenance #1 .* ended/);
  const opened = await t.click('alerts.silence', groupId, { user: 'U0SRE' });
  await t.settle();
  expect(t.slack.replies(opened.responseId)).toEqual([]);
  expect(t.slack.views).toHaveLength(1);
});
