import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createEmptyDatabase } from '../support/db.js';
import { seedSampleData } from '../support/backups.js';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { FakeClock, HOUR, MINUTE } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { generateIdentity } from '../../src/backups/age.js';
import { listBackups } from '../../src/backups/store.js';
import type { LeaseScheduler } from '../../src/jobs/scheduler.js';

let a: TestApp;
let b: FirebreakApp;
let src: { url: string; drop(): Promise<void> };
const clock = new FakeClock('2026-03-02T10:06:00Z');

beforeAll(async () => {
  src = await createEmptyDatabase('fb_sched');
  await seedSampleData(src.url, 50);
  const keys = generateIdentity();
  a = await startTestApp({
    clock,
    config: {
      backups: {
        databases: [{ name: 'app', url: src.url }],
        schedules: [{ name: 'hourly', cron: '5 * * * *', tier: 'hourly' }],
        storage: { localDir: mkdtempSync(path.join(tmpdir(), 'fb-bk-sched-')) },
        encryption: { recipient: keys.recipient, identity: keys.identity },
        retention: { cron: '' },
        // Checked by hand below, not by slot.
        staleCheckCron: '0 0 1 1 *',
      },
    },
  });
  // A second replica on the same database: its own scheduler, job loop and replica id.
  b = await createApp({ config: a.config, pool: a.db.pool, clock, log: createLogger({ level: 'silent' }), chat: a.app.ctx.chat });
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await src?.drop();
});

describe('scheduled backups', () => {
  it('a fresh install catches up no slot from before its schedule existed, and is stale only a full 1.5 intervals after it', async () => {
    const sa = a.app.ctx.scheduler as LeaseScheduler;
    const service = a.app.services.backups;
    const staleAlerts = () => a.slack.messagesIn('ops').filter((m) => m.text.includes('Backups of *app* are overdue'));
    // 10:06: the schedule is seen for the first time; its 10:05 slot never had a chance to run.
    await sa.enqueueDueSlots();
    await a.app.ctx.jobs.tick();
    expect(await listBackups(a.db.pool, { database: 'app' })).toEqual([]);
    expect(await service.checkStaleness()).toEqual([]);
    clock.advance(80 * MINUTE); // 11:26, 1h20m after the schedule began: not yet overdue
    expect(await service.checkStaleness()).toEqual([]);
    clock.advance(11 * MINUTE); // 11:37, 1h31m
    expect(await service.checkStaleness()).toEqual(['app']);
    expect(staleAlerts()).toHaveLength(1);
  });

  it('two replicas make one scheduled run per slot', async () => {
    const sa = a.app.ctx.scheduler as LeaseScheduler;
    const sb = b.ctx.scheduler as LeaseScheduler;
    await Promise.all([sa.enqueueDueSlots(), sb.enqueueDueSlots()]);
    await Promise.all([a.app.ctx.jobs.tick(), b.ctx.jobs.tick()]);
    await Promise.all([a.app.ctx.jobs.tick(), b.ctx.jobs.tick()]);
    const backups = await listBackups(a.db.pool, { database: 'app' });
    expect(backups.map((x) => [x.status, x.tier, x.requestedBy])).toEqual([['verified', 'hourly', 'schedule:hourly']]);
    // The scheduled run announced itself in the ops channel, and that message ends with the outcome.
    const announced = a.slack.messagesIn('ops').filter((m) => m.text.startsWith(':floppy_disk: Backup of *app* started by the hourly schedule'));
    expect(announced.map((m) => m.text)).toEqual([expect.stringMatching(/:white_check_mark: is good\. Details in the thread\.$/)]);
  });

  it('alerts the ops channel once when no good backup is within 1.5x the schedule interval', async () => {
    const service = a.app.services.backups;
    expect(service.intervalFor('app')).toBe(HOUR);
    const earlier = a.slack.messagesIn('ops').filter((m) => m.text.includes('Backups of *app* are overdue')).length;
    const staleAlerts = () => a.slack.messagesIn('ops').filter((m) => m.text.includes('Backups of *app* are overdue')).slice(earlier);
    clock.advance(84 * MINUTE); // 1.4 h after the backup
    expect(await service.checkStaleness()).toEqual([]);
    clock.advance(12 * MINUTE); // 1.6 h
    expect(await service.checkStaleness()).toEqual(['app']);
    expect(staleAlerts()).toHaveLength(1);
    expect(staleAlerts()[0]!.text).toMatch(/newest good backup is 1h3\dm old .* the limit is 1h30m/);
    // Once per episode, not every check.
    clock.advance(10 * MINUTE);
    expect(await service.checkStaleness()).toEqual([]);
    expect(staleAlerts()).toHaveLength(1);
  });
});
