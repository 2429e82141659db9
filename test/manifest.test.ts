/**
 * manifest.yml must stay in step with the code: every slash command the app registers is in
 * the manifest, everything points at POST /slack/events, and every Slack Web API method the
 * Slack surface calls is covered by a requested scope (and nothing much more).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';

interface Manifest {
  features: { slash_commands: { command: string; url: string; usage_hint?: string; description: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { event_subscriptions: { request_url: string; bot_events: string[] }; interactivity: { is_enabled: boolean; request_url: string } };
}
const manifest = parse(readFileSync('manifest.yml', 'utf8')) as Manifest;

// Which scope each Web API method needs (https://api.slack.com/methods).
const SCOPE_FOR: Record<string, string | null> = {
  'chat.postMessage': 'chat:write', 'chat.update': 'chat:write', 'chat.postEphemeral': 'chat:write', 'chat.getPermalink': null,
  'conversations.create': 'channels:manage', 'conversations.setTopic': 'channels:manage', 'conversations.setPurpose': 'channels:manage',
  'conversations.invite': 'channels:manage', 'conversations.list': 'channels:read', 'conversations.history': 'channels:history', 'conversations.replies': 'channels:history', 'conversations.info': 'channels:read',
  'conversations.join': 'channels:join', 'conversations.open': 'im:write', 'usergroups.users.list': 'usergroups:read', 'users.info': 'users:read',
  'views.open': null, 'files.uploadV2': 'files:write', 'auth.test': null,
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.stop());

describe('manifest.yml', () => {
  it('lists every slash command the app serves, each with a usage hint, all on /slack/events', () => {
    const served = [...t.app.interactions.commands.keys()].sort();
    const listed = manifest.features.slash_commands.map((c) => c.command).sort();
    for (const c of ['/incident', '/backup', '/dr', '/runbook']) expect(listed).toContain(c);
    expect(listed).toEqual(expect.arrayContaining(served));
    for (const c of manifest.features.slash_commands) {
      expect(new URL(c.url).pathname).toBe('/slack/events');
      expect(c.usage_hint).toBeTruthy();
    }
    expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe('/slack/events');
    expect(new URL(manifest.settings.event_subscriptions.request_url).pathname).toBe('/slack/events');
  });

  it('subscribes to the events the timeline needs', () => {
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(expect.arrayContaining(['pin_added', 'reaction_added']));
    expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['pins:read', 'reactions:read']));
  });

  it('requests a scope for every Web API method the Slack surface calls', () => {
    const source = readFileSync('src/slack/surface.ts', 'utf8');
    const called = [...source.matchAll(/client\.([a-z]+)\.([a-zA-Z0-9]+(?:\.[a-zA-Z0-9]+)?)\(/g)].map((m) => `${m[1]}.${m[2]}`);
    expect(called.length).toBeGreaterThan(5);
    const scopes = manifest.oauth_config.scopes.bot;
    for (const method of new Set(called)) {
      expect(SCOPE_FOR, `add ${method} to SCOPE_FOR`).toHaveProperty([method]);
      const need = SCOPE_FOR[method];
      if (need) expect(scopes, `${method} needs ${need}`).toContain(need);
    }
    expect(scopes).toContain('commands');
    // Least privilege: nothing that reads private channels or DMs. users:read.email is the one
    // directory scope: it maps a person to their PagerDuty user for acting in PagerDuty (#17).
    for (const broad of ['groups:history', 'im:history', 'mpim:history', 'admin']) expect(scopes).not.toContain(broad);
  });
});
