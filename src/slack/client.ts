import { webApi } from '@slack/bolt';
import type { Logger } from '../log.js';
import { MeteredWebClient } from '../ops/slack-metrics.js';

export type SlackClient = InstanceType<typeof webApi.WebClient>;

/**
 * The one Slack Web API client. @slack/web-api already waits out 429s for the Retry-After
 * Slack sends and retries transient failures; we bound it with a timeout per call and a
 * small retry budget so a declare never hangs on Slack.
 */
export function createSlackClient(opts: { token: string; apiUrl: string; timeoutSeconds: number; log: Logger; onRateLimited?: (method: string) => void; once?: boolean }): SlackClient {
  // Metered: every call and 429 shows in GET /metrics (src/ops/slack-metrics.ts).
  const client = new MeteredWebClient(opts.token, {
    slackApiUrl: opts.apiUrl.endsWith('/') ? opts.apiUrl : opts.apiUrl + '/',
    timeout: opts.timeoutSeconds * 1000,
    // `once`: for calls that must not be repeated blindly (a tagged post). A timed-out or reset
    // request may still reach Slack, and the client's own retry then posts a second message:
    // the chaos run's group posted twice this way (a post delayed past the 2 s timeout). Such a
    // caller hears the failure and retries durably, looking for its tagged message first.
    rejectRateLimitedCalls: !!opts.once,
    retryConfig: opts.once ? { retries: 0 } : { retries: 3, factor: 2, minTimeout: 200, maxTimeout: 3000, randomize: true },
    logLevel: webApi.LogLevel.ERROR,
  });
  client.on(webApi.WebClientEvent.RATE_LIMITED, (retryAfter: number, { url }: { url: string }) => {
    opts.log.warn({ retryAfter, method: url }, 'slack rate limited us; waiting');
    opts.onRateLimited?.(url);
  });
  return client;
}
