/**
 * "DR drill missed" is about drills that had a chance to run: a fresh install is not overdue
 * until its drill schedule has existed for the whole overdue limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock } from '../../src/clock.js';
import type { LeaseScheduler } from '../../src/jobs/scheduler.js';

const DAY = 86_400_000;
const clock = new FakeClock('2026-05-10T08:00:00Z');
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ clock });
}, 60_000);
afterAll(() => t?.stop());

describe('the overdue-drill watch on a fresh install', () => {
  it('stays quiet for the first 35 days of the schedule, then says no dry run has run since drills were scheduled', async () => {
    const dr = t.app.services.dr;
    const missed = () => t.slack.messagesIn('ops').filter((m) => m.text.includes('DR drill missed'));
    // The first start: the schedule is seen now; no slot from before it is caught up.
    await (t.app.ctx.scheduler as LeaseScheduler).enqueueDueSlots();
    expect(await dr.checkOverdue()).toBe(false);
    clock.advance(34 * DAY);
    expect(await dr.checkOverdue()).toBe(false);
    expect(missed()).toEqual([]);
    clock.advance(2 * DAY);
    expect(await dr.checkOverdue()).toBe(true);
    expect(missed().map((m) => m.text)).toEqual([expect.stringMatching(/DR drill missed: no DR dry run has run since drills were scheduled over 35 days ago/)]);
  });
});
