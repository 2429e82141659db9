// The baseline: a bare Bolt app on its own HTTPReceiver whose /incident listener only acks.
// Same token handling as Firebreak's (auth.test once at start, against the same fake Slack).
import bolt from '@slack/bolt';

const app = new bolt.App({
  signingSecret: process.env.SLACK_SIGNING_SECRET!, token: process.env.SLACK_BOT_TOKEN!,
  logLevel: bolt.LogLevel.ERROR, clientOptions: { slackApiUrl: process.env.SLACK_API_URL! },
});
app.command('/incident', async ({ ack }) => ack());
await app.start(Number(process.env.PORT));
process.stdout.write('ready\n');
process.on('SIGTERM', () => void app.stop().then(() => process.exit(0)));
