import { webApi } from '@slack/bolt';
import { observeSlackCall } from './metrics.js';

type WebClient = InstanceType<typeof webApi.WebClient>;

/**
 * Counts every Slack Web API call by method and outcome. Every named method of the client
 * (`chat.postMessage`, `auth.test`, ...) goes through `apiCall`, so wrapping it meters them all
 * without touching the callers. 429s are counted from the client's RATE_LIMITED event: the
 * client waits them out and retries, so the call itself may still end `ok`.
 */
export function meterSlackClient<C extends WebClient>(client: C): C {
  const apiCall = client.apiCall.bind(client);
  client.apiCall = async (method, options) => {
    try {
      const r = await apiCall(method, options);
      observeSlackCall(method, 'ok');
      return r;
    } catch (e) {
      const err = e as { code?: string; data?: { error?: string } };
      const limited = err.code === 'slack_webapi_rate_limited_error' || err.data?.error === 'ratelimited';
      observeSlackCall(method, limited ? 'rate_limited' : 'error');
      throw e;
    }
  };
  client.on(webApi.WebClientEvent.RATE_LIMITED, (_retryAfter: number, { url }: { url: string }) => {
    observeSlackCall(slackMethodOf(url), 'rate_limited');
  });
  return client;
}

/** `https://slack.com/api/chat.postMessage` -> `chat.postMessage`. */
export function slackMethodOf(url: string): string {
  const m = /([a-zA-Z]+(?:\.[a-zA-Z0-9]+)+)\/?(?:\?.*)?$/.exec(url);
  return m?.[1] ?? 'unknown';
}
