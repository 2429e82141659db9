import { describe, expect, it } from 'vitest';
import { incidentsConfigSchema } from '../../src/incidents/config.js';

describe('severity policy config', () => {
  it('has the documented defaults', () => {
    const c = incidentsConfigSchema.parse({});
    expect(Object.fromEntries(Object.entries(c.severities).map(([s, p]) => [s, p.updateCadenceMinutes]))).toEqual({ P0: 15, P1: 30, P2: 60, P3: null, P4: null });
    expect(c.severities.P1).toMatchObject({ page: true, requiredRoles: ['commander', 'comms', 'tech'], templates: ['internal', 'customer', 'executive'] });
  });

  it('overriding one key of a severity keeps that severity\'s other defaults', () => {
    const c = incidentsConfigSchema.parse({ severities: { P1: { responders: ['U0BOB'] }, P3: { updateCadenceMinutes: 120 } } });
    expect(c.severities.P1).toMatchObject({ responders: ['U0BOB'], updateCadenceMinutes: 30, page: true, templates: ['internal', 'customer', 'executive'] });
    expect(c.severities.P3).toMatchObject({ updateCadenceMinutes: 120, page: false, requiredRoles: ['commander'] });
  });

  it('names a misspelt key or a bad id instead of ignoring it', () => {
    const r = incidentsConfigSchema.safeParse({ severities: { P1: { responder: ['U0BOB'] }, P2: { responders: ['bob'] } } });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^severities\.P1: Unrecognized key: "responder"/), expect.stringMatching(/^severities\.P2\.responders\.0: .*Slack id/)]));
  });
});
