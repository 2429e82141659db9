import { webApi } from '@slack/bolt';
import { observeSlackCall, slackApiCalls, slackApiErrors } from './metrics.js';

type ApiCall = InstanceType<typeof webApi.WebClient>['apiCall'];

/**
 * The Slack Web API client, counting every call by method and outcome. The client binds each
 * named method (`chat.postMessage`, `auth.test`, ...) to `this.apiCall` when it is constructed,
 * so overriding `apiCall` in a subclass meters them all without touching the callers.
 * 429s are counted from the client's RATE_LIMITED event: the client waits them out and
 * retries, so the call itself may still end `ok`.
 */
export class MeteredWebClient extends webApi.WebClient {
  constructor(...args: ConstructorParameters<typeof webApi.WebClient>) {
    super(...args);
    this.on(webApi.WebClientEvent.RATE_LIMITED, (_retryAfter: number, { url }: { url: string }) => {
      observeSlackCall(slackMethodOf(url), 'rate_limited');
    });
  }

  override async apiCall(...args: Parameters<ApiCall>): ReturnType<ApiCall> {
    const [method] = args;
    try {
      const r = await super.apiCall(...args);
      observeSlackCall(method, 'ok');
      return r;
    } catch (e) {
      const err = e as { code?: string; data?: { error?: string } };
      const limited = err.code === 'slack_webapi_rate_limited_error' || err.data?.error === 'ratelimited';
      // The 429 itself was already counted by the RATE_LIMITED event; count the failed call only.
      if (limited) slackApiCalls.inc({ method, outcome: 'rate_limited' });
      else {
        observeSlackCall(method, 'error');
        slackApiErrors.inc({ method, error: slackErrorOf(err) });
      }
      throw e;
    }
  }
}

/**
 * The label for a failed call: Slack's own error code (`channel_not_found`, `not_in_channel`,
 * ...; a short fixed vocabulary) or the client's error kind when Slack never answered. Anything
 * not word-like becomes `other` so a label never carries free text.
 */
export function slackErrorOf(err: { code?: string; data?: { error?: string } }): string {
  const code = err.data?.error;
  if (typeof code === 'string' && /^[a-z][a-z0-9_]{0,60}$/.test(code)) return code;
  if (err.code === 'slack_webapi_request_error') return 'request_error';
  if (err.code === 'slack_webapi_http_error') return 'http_error';
  return 'other';
}

/** `https://slack.com/api/chat.postMessage` -> `chat.postMessage`. */
export function slackMethodOf(url: string): string {
  const m = /([a-zA-Z]+(?:\.[a-zA-Z0-9]+)+)\/?(?:\?.*)?$/.exec(url);
  return m?.[1] ?? 'unknown';
}
