/**
 * At start, every channel Firebreak posts to is found, created when the bot may, or reported
 * once with the exact fix (src/chat/channels.ts, called by src/main.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createLogger } from '../../src/log.js';
import { configuredChannels, ensureChannels } from '../../src/chat/channels.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    seedChannels: ['incidents'],
    config: { alerts: { route: { routes: [{ matchers: ['team="db"'], channel: 'db-alerts' }] } } },
  });
}, 60_000);
afterAll(() => t?.stop());

describe('configured channels at start', () => {
  it('lists every channel Firebreak posts to, with the settings that name it', () => {
    expect(configuredChannels(t.config)).toEqual([
      { name: 'incidents', usedBy: ['incidents.channel'] },
      { name: 'ops', usedBy: ['ops.channel'] },
      { name: 'approvals', usedBy: ['approvals.channel'] },
      { name: 'alerts', usedBy: ['alerts.defaultChannel', 'alerts.route (root)'] },
      { name: 'db-alerts', usedBy: [expect.stringMatching(/^alerts\.route \(/)] },
    ]);
  });

  it('creates the missing ones the bot may create, and names the fix for one it may not', async () => {
    // The workspace refuses one creation (as without channels:manage, or a name taken by an archived channel).
    t.slack.fail('conversations.create', 'restricted_action', { times: 1 });
    const r = await ensureChannels(t.config, t.app.ctx.chat, createLogger({ level: 'silent' }));
    expect(r.found).toEqual(['incidents']);
    expect(r.created).toEqual(['approvals', 'alerts', 'db-alerts']);
    expect(r.missing).toEqual([{ name: 'ops', fix: expect.stringMatching(/^#ops \(ops\.channel\) does not exist and the bot cannot create it: create #ops in Slack \(or give the app the channels:manage scope\), or change ops\.channel$/) }]);
    expect(t.slack.channel('db-alerts')).toBeDefined();
  });
});
