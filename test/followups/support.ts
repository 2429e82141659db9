import nock from 'nock';
import { startTestApp, type TestApp } from '../support/app.js';
import type { FakeClock } from '../../src/clock.js';

/** An app exporting follow-ups to a tracker faked by nock: only loopback (the app, fake Slack) stays real. */
export async function startTrackerApp(clock: FakeClock, followups: Record<string, unknown>): Promise<TestApp> {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  return startTestApp({ clock, config: { followups } });
}
