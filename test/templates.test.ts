import { describe, expect, it } from 'vitest';
import { mention } from '../src/templates/format.js';

describe('mention', () => {
  it('mentions Slack users and writes out systems and outside people', () => {
    expect(mention('U0ALICE')).toBe('<@U0ALICE>');
    expect(mention('W123ABC')).toBe('<@W123ABC>');
    expect(mention('firebreak')).toBe('Firebreak');
    expect(mention('pagerduty:Dana Oncall')).toBe('Dana Oncall (pagerduty)');
    expect(mention('alert:alertmanager')).toBe('alertmanager (alert)');
    expect(mention(null)).toBe('_unassigned_');
  });
});
