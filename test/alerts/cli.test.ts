/** `firebreak alerts routes`: the route tree and where an alert with given labels goes. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { alertsCli } from '../../src/cli/alerts.js';
import { runCliText } from '../support/cli.js';

let dir: string;
const saved = { ...process.env };
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fb-cli-alerts-'));
  writeFileSync(path.join(dir, 'fb.yml'), `
alerts:
  route:
    channel: alerts
    group_by: [alertname]
    routes:
      - matchers: ['team="db"']
        channel: db-alerts
        auto_declare: { severity: P2 }
      - matchers: ['team=~"web|api"']
        channel: web
        group_by: ['...']
      - matchers: ['owner="Data Platform", msg=~".*, .*"']
        channel: data
`);
  process.env.FIREBREAK_CONFIG = path.join(dir, 'fb.yml');
});
afterAll(() => {
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

const run = (args: string[]) => runCliText(alertsCli, 'routes', args);

it('prints the tree with effective (inherited) options', async () => {
  const r = await run([]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('(root)  #alerts  group_by [alertname]  wait 30s interval 5m repeat 4h');
  expect(r.out).toContain('  {team="db"}  #db-alerts  group_by [alertname]');
  expect(r.out).toContain('auto_declare P2');
  expect(r.out).toContain('  {team=~"web|api"}  #web  group_by [...]');
});

it('shows where an alert goes and its group', async () => {
  const r = await run(['team=api', 'alertname=Slow']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^#web {2}group_by \[\.\.\.\]/);
  expect(r.out).toContain('group {}/{team=~"web|api"}:{alertname="Slow",team="api"}');
  expect((await run(['team=nobody'])).out).toMatch(/^#alerts/);
});

it('reads labels in amtool\'s argument forms: quotes are not part of the value', async () => {
  expect((await run(['team="db"'])).out).toMatch(/^#db-alerts/);
  expect((await run(['owner="Data Platform"', 'msg="disk full, again"'])).out).toMatch(/^#data/);
  expect((await run(["team='db'"])).out).toMatch(/^#alerts/);
});

it('refuses arguments that are not label=value', async () => {
  const r = await run(['team']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('"team" is not label=value');
  expect((await run(['team!=db'])).code).toBe(2);
});
