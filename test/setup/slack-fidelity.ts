/**
 * Makes every test a Slack fidelity test: a payload the fake Slack found invalid (one real
 * Slack would refuse) fails the test that sent it, even when the code under test swallowed
 * Slack's error.
 */
import { afterEach } from 'vitest';
import { FakeSlack } from '../support/fake-slack.js';

afterEach(() => {
  const found = [...FakeSlack.live].flatMap((f) => f.takeViolations());
  if (found.length === 0) return;
  const lines = found.slice(0, 5).map((v) => `${v.method}: ${v.problems.slice(0, 5).join('; ')}`);
  throw new Error(`Slack would refuse ${found.length} payload(s) this test sent:\n${lines.join('\n')}`);
});
