/**
 * Found by bench/chaos (short run, seed 18): alert group #1 posted twice, both messages tagged,
 * one right after the other. The fault proxy delayed a chat.postMessage by 1.2 s on a loaded
 * machine, past the 2 s client timeout; the request still reached Slack and posted, while
 * @slack/web-api retried it on its own and posted again, all inside one `post` call, before
 * any retry of Firebreak's could look for the tag. A tagged post is now sent once: a failure
 * goes back to its caller, whose durable retry looks for the tagged message before posting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { createSlackEdge } from '../../src/slack/edge.js';
import { ChatError } from '../../src/chat/surface.js';
import { FakeSlack } from '../support/fake-slack.js';

let slack: FakeSlack;
beforeAll(async () => {
  slack = await new FakeSlack().start();
  slack.addChannel('alerts');
});
afterAll(() => slack.stop());

const chat = (timeoutSeconds = 5) =>
  createSlackEdge(
    configSchema.parse({ port: 0, logLevel: 'silent', slack: { botToken: 'xoxb-tagged', signingSecret: 'tagged-post-secret', apiUrl: slack.url, timeoutSeconds } }),
    createLogger({ level: 'silent' }),
  ).chat;

const posts = () => slack.callsTo('chat.postMessage').length;
async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a tagged post that Slack answers after the client gave up', () => {
  it('is sent once, fails to its caller, and is found by its tag afterwards', async () => {
    const c = chat(0.4);
    const tag = { incidentId: 0, step: 'alert-group:41' };
    const before = posts();
    slack.slow('chat.postMessage', 900);
    const err = await c.post('alerts', { text: 'FIRING: 1 DiskFull' }, { tag }).then(() => undefined, (e: unknown) => e);
    slack.slow('chat.postMessage', 0);
    expect(err).toBeInstanceOf(ChatError);
    expect((err as ChatError).retryable).toBe(true);
    // Every request the client sent has arrived by the time it gave up: one, not one per retry.
    expect(posts() - before).toBe(1);
    await until('the late post to land', () => slack.messagesIn('alerts').some((m) => m.metadata?.event_payload.step === tag.step));
    const found = await chat().findTagged(slack.messagesIn('alerts')[0]!.channel, tag);
    expect(found?.ts).toBe(slack.messagesIn('alerts').find((m) => m.metadata?.event_payload.step === tag.step)!.ts);
    expect(slack.messagesIn('alerts').filter((m) => m.metadata?.event_payload.step === tag.step)).toHaveLength(1);
  });

  it('still waits out a 429 (Slack did not take the post) and posts once', async () => {
    const c = chat();
    const tag = { incidentId: 0, step: 'alert-group:42' };
    slack.fail('chat.postMessage', 'ratelimited', { status: 429, retryAfter: 1, times: 1 });
    const posted = await c.post('alerts', { text: 'FIRING: 1 CpuHigh' }, { tag });
    expect(slack.messagesIn('alerts').filter((m) => m.metadata?.event_payload.step === tag.step).map((m) => m.ts)).toEqual([posted.ts]);
  });

  it('untagged posts keep the client retries (nothing to find them by)', async () => {
    const c = chat();
    slack.fail('chat.postMessage', 'internal_error', { status: 500, times: 1 });
    const posted = await c.post('alerts', { text: 'plain' });
    expect(posted.ts).toBeTruthy();
  });
});
