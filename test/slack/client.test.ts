/** The one Slack Web API client: waits out 429s for Retry-After, and never hangs on a slow Slack. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../src/slack/client.js';
import { SlackSurface } from '../../src/slack/surface.js';
import { ChatError } from '../../src/chat/surface.js';
import { createLogger } from '../../src/log.js';
import { FakeSlack } from '../support/fake-slack.js';

let slack: FakeSlack;
beforeAll(async () => {
  slack = await new FakeSlack().start();
  slack.addChannel('incidents');
});
afterAll(() => slack.stop());

const client = (timeoutSeconds = 5) => {
  const limited: string[] = [];
  const c = createSlackClient({ token: 'xoxb-test', apiUrl: slack.url, timeoutSeconds, log: createLogger({ level: 'silent' }), onRateLimited: (m) => limited.push(m) });
  return { c, limited };
};

describe('the Slack client', () => {
  it('waits for Retry-After on 429 and then succeeds', async () => {
    const { c, limited } = client();
    slack.fail('chat.postMessage', 'ratelimited', { status: 429, retryAfter: 1, times: 1 });
    const before = slack.calls.filter((x) => x.method === 'chat.postMessage').length;
    const started = Date.now();
    const posted = await new SlackSurface(c).post('incidents', { text: 'after the limit' });
    expect(posted.ts).toBeTruthy();
    expect(slack.calls.filter((x) => x.method === 'chat.postMessage').length - before).toBe(2);
    expect(limited).toHaveLength(1);
    // It honoured the header rather than retrying at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(slack.messagesIn('incidents').map((m) => m.text)).toContain('after the limit');
  });

  it('gives up on a call that does not answer, with a ChatError the caller can report', async () => {
    const { c } = client(0.3);
    slack.slow('conversations.setTopic', 5000);
    try {
      const err = await new SlackSurface(c).setTopic('incidents', 'x').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ChatError);
    } finally {
      slack.slow('conversations.setTopic', 0);
    }
  }, 20_000);

  it('turns Slack error answers into ChatError with Slack\'s code', async () => {
    const { c } = client();
    slack.fail('conversations.create', 'restricted_action');
    const err = await new SlackSurface(c).createChannel('inc-x').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ChatError);
    expect((err as ChatError).code).toBe('restricted_action');
  });
});
