/** The README is part of the contract: its commands, its variable table and its paths must stay true. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_BINDINGS } from '../src/config/env.js';
import { envTable } from '../scripts/env-table.js';

const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it('gives the install+start and install+test commands, and CI runs exactly the test one', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    const ci = readFileSync('.ci/run', 'utf8').trim().split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
    expect(ci).toEqual(['npm ci && npm test']);
  });

  it('documents every environment variable with the generated table', () => {
    const table = readme.slice(readme.indexOf('<!-- env-table'), readme.indexOf('<!-- /env-table -->'));
    expect(table).toContain(envTable());
    for (const name of ['DATABASE_URL', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'SLACK_API_URL', 'PORT', 'FIREBREAK_CONFIG', ...ENV_BINDINGS.map((b) => b.env)]) {
      expect(table, name).toContain(`\`${name}\``);
    }
  });

  it('documents the public HTTP paths', () => {
    for (const p of ['/slack/events', '/console', '/webhooks/alertmanager', '/webhooks/grafana', '/webhooks/sns', '/webhooks/generic', '/webhooks/pagerduty', '/health/live', '/health/ready', '/health/startup', '/metrics']) {
      expect(readme, p).toContain(p);
    }
  });
});
