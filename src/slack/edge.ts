import { App, LogLevel } from '@slack/bolt';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Route } from '../http/router.js';
import type { FirebreakApp } from '../app/app.js';
import { createSlackClient } from './client.js';
import { SlackSurface } from './surface.js';
import { SlackEventsReceiver } from './receiver.js';
import { StoreFirstSocketModeReceiver } from './socket-receiver.js';
import { registerSlackListeners } from './listeners.js';
import { slackReplies } from './replies.js';
import type { ReplyFactory } from '../chat/interactions.js';
import { systemClock } from '../clock.js';

export interface SlackEdge {
  chat: SlackSurface;
  /** Answers through response_url when the request carried one (pass to createApp). */
  replies: ReplyFactory;
  /** Mounts the Bolt app on Firebreak's app; returns the HTTP routes it serves. */
  attach(app: FirebreakApp): Route[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Slack as Firebreak's chat surface: HTTP mode (POST /slack/events) or Socket Mode. */
export function createSlackEdge(config: Config, log: Logger, onRateLimited?: (method: string) => void): SlackEdge {
  const { botToken, signingSecret, appToken, apiUrl, timeoutSeconds } = config.slack;
  if (!botToken) throw new Error('SLACK_BOT_TOKEN is required for Slack mode');
  const client = createSlackClient({ token: botToken, apiUrl, timeoutSeconds, log, onRateLimited });
  const chat = new SlackSurface(client, createSlackClient({ token: botToken, apiUrl, timeoutSeconds, log, onRateLimited, once: true }));
  const socketMode = !!appToken;
  let bolt: App | undefined;
  return {
    chat,
    replies: slackReplies(chat),
    attach(app) {
      const receiver = socketMode ? undefined : new SlackEventsReceiver(signingSecret!, log, systemClock);
      const slackApiUrl = apiUrl.endsWith('/') ? apiUrl : apiUrl + '/';
      bolt = new App({
        token: botToken,
        // Socket Mode acks an event only once it is stored (src/slack/socket-receiver.ts).
        receiver: socketMode ? new StoreFirstSocketModeReceiver(appToken, slackApiUrl) : receiver,
        clientOptions: { slackApiUrl },
        logLevel: LogLevel.ERROR,
      });
      // Bolt's listeners are registered once; each request reaches the generation current when
      // it arrives (a configuration reload swaps it), never the one that was current at start.
      registerSlackListeners(bolt, {
        accept: (r) => app.interactions.accept(r),
        view: (sub, reply) => app.interactions.view(sub, reply),
      }, chat, log);
      return receiver ? [receiver.route()] : [];
    },
    async start() {
      if (socketMode) await bolt?.start();
    },
    async stop() {
      if (socketMode) await bolt?.stop();
    },
  };
}
