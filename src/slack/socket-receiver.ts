import { SocketModeReceiver, LogLevel, type App, type Receiver, type ReceiverEvent } from '@slack/bolt';

/**
 * Socket Mode under the rule the HTTP receiver keeps: a request is stored before Slack hears
 * it was received. Bolt acks an Events API envelope before any listener runs; Firebreak's
 * event listeners store the event (src/handlers/slack.ts), so here the envelope's ack waits
 * until they have finished. A replica that dies after the ack has stored the event; one that
 * dies before it leaves the envelope unacked, and Slack delivers it again. When storing
 * fails, no ack goes out at all (Bolt's receiver leaves a failed envelope unacked), so Slack
 * re-delivers rather than forgets. Commands, buttons and modals are acked by their listeners,
 * which write the record first.
 */
export class StoreFirstSocketModeReceiver implements Receiver {
  private inner: SocketModeReceiver;

  constructor(appToken: string, slackApiUrl: string) {
    // The receiver's own client opens the connection (apps.connections.open) at this URL.
    this.inner = new SocketModeReceiver({ appToken, logLevel: LogLevel.ERROR, installerOptions: { clientOptions: { slackApiUrl } } });
  }

  init(app: App): void {
    this.inner.init({ processEvent: (event: ReceiverEvent) => this.process(app, event) } as unknown as App);
  }

  start(): Promise<unknown> {
    return this.inner.start();
  }

  stop(): Promise<unknown> {
    return this.inner.stop();
  }

  private async process(app: App, event: ReceiverEvent): Promise<void> {
    if ((event.body as { type?: string }).type !== 'event_callback') return app.processEvent(event);
    let response: unknown;
    await app.processEvent({
      ...event,
      ack: async (r?: unknown) => {
        response = r;
      },
    });
    await event.ack(response as never);
  }
}
