// The test suite's fake Slack Web API as its own process, so its CPU is not charged to the
// program being measured. Prints its base URL on stdout.
import { FakeSlack } from '../../test/support/fake-slack.js';

const slack = await new FakeSlack().start();
for (const name of (process.env.CHANNELS ?? 'incidents').split(',')) slack.addChannel(name);
process.stdout.write(`${slack.url}\n`);
process.on('SIGTERM', () => void slack.stop().then(() => process.exit(0)));
