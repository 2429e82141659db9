/** Feature flags (src/flags): stable buckets, percentages that hold, schema refusals. */
import { describe, expect, it } from 'vitest';
import { flagBucket, flagEnabled } from '../../src/flags/flags.js';
import { configSchema } from '../../src/config/schema.js';
import { loadConfigText, ConfigError } from '../../src/config/load.js';

const users = Array.from({ length: 10_000 }, (_v, i) => `U${(i * 7919).toString(36).toUpperCase()}X${i}`);

describe('feature flags', () => {
  it('puts an id in the same bucket every time, independently per flag', () => {
    expect(flagBucket('new-route', 'U012ABC')).toBe(flagBucket('new-route', 'U012ABC'));
    // Known values: a change to the hashing would move everyone's rollout.
    expect([flagBucket('new-route', 'U012ABC'), flagBucket('other', 'U012ABC')]).toEqual([44, 3]);
    const same = users.filter((u) => flagBucket('a', u) === flagBucket('b', u)).length;
    expect(same / users.length).toBeLessThan(0.03);
    expect(users.every((u) => Number.isInteger(flagBucket('x', u)) && flagBucket('x', u) >= 0 && flagBucket('x', u) < 100)).toBe(true);
  });

  it('turns a percentage into that share of users, and raising it only adds users', () => {
    const share = (p: number) => users.filter((u) => flagEnabled({ f: { percentage: p } }, 'f', { userId: u })).length / users.length;
    expect(share(0)).toBe(0);
    expect(share(100)).toBe(1);
    expect(Math.abs(share(25) - 0.25)).toBeLessThan(0.02);
    expect(Math.abs(share(50) - 0.5)).toBeLessThan(0.02);
    const at10 = users.filter((u) => flagEnabled({ f: { percentage: 10 } }, 'f', { userId: u }));
    const at30 = new Set(users.filter((u) => flagEnabled({ f: { percentage: 30 } }, 'f', { userId: u })));
    expect(at10.every((u) => at30.has(u))).toBe(true);
  });

  it('is on, off, by channel, and off for unknown flags or missing ids', () => {
    expect(flagEnabled({ on: { enabled: true } }, 'on')).toBe(true);
    expect(flagEnabled({ off: { enabled: false, percentage: 100 } }, 'off', { userId: 'U1' })).toBe(false);
    expect(flagEnabled({}, 'missing', { userId: 'U1' })).toBe(false);
    expect(flagEnabled({ c: { percentage: 100, by: 'channel' } }, 'c', { userId: 'U1' })).toBe(false);
    expect(flagEnabled({ c: { percentage: 100, by: 'channel' } }, 'c', { channelId: 'C1' })).toBe(true);
    const channels = ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8'];
    const on = channels.filter((c) => flagEnabled({ c: { percentage: 50, by: 'channel' } }, 'c', { channelId: c, userId: 'U1' }));
    expect(on).toEqual(channels.filter((c) => flagBucket('c', c) < 50));
  });

  it('is validated with the configuration: bad names, percentages and keys are refused by name', () => {
    expect(configSchema.parse({ flags: { beta: { percentage: 5 } } }).flags).toEqual({ beta: { percentage: 5 } });
    expect(configSchema.parse({}).flags).toEqual({});
    const problems = (text: string) => {
      try {
        loadConfigText(text, {});
        return [];
      } catch (e) {
        return (e as ConfigError).problems.map((p) => p.key);
      }
    };
    expect(problems('flags:\n  beta:\n    percentage: 150\n')).toEqual(['flags.beta.percentage']);
    expect(problems('flags:\n  beta:\n    by: team\n')).toEqual(['flags.beta.by']);
    expect(problems('flags:\n  beta:\n    enabeld: true\n')).toEqual(['flags.beta']);
    expect(problems('flags:\n  Bad Name: {}\n')).toEqual(['flags.Bad Name']);
  });
});
