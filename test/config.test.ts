import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { chatMode, configWarnings, consoleServed, listenHost } from '../src/config/schema.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fb-config-'));
function yamlFile(text: string): string {
  const f = path.join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(f, text);
  return f;
}
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.key} | ${p.source} | ${p.message}`);
    throw e;
  }
  return [];
}

describe('configuration', () => {
  it('has working defaults: console mode, port 3000, incidents channel "incidents"', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.incidents.channel).toBe('incidents');
    expect(chatMode(c)).toBe('console');
    expect(c.incidents.severities.P1.updateCadenceMinutes).toBe(30);
  });

  it('chooses Slack HTTP mode with bot token and signing secret, Socket Mode with an app token', () => {
    expect(chatMode(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123' }))).toBe('slack-http');
    expect(chatMode(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123', SLACK_APP_TOKEN: 'xapp-1' }))).toBe('slack-socket');
  });

  it('refuses every partial set of Slack secrets, naming the missing ones', () => {
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1' })).toEqual([expect.stringMatching(/^slack \| env SLACK_\* \| .*SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET \(HTTP mode\) or SLACK_APP_TOKEN \(Socket Mode\) is missing/)]);
    for (const env of <Record<string, string>[]>[{ SLACK_SIGNING_SECRET: 'secret-123' }, { SLACK_APP_TOKEN: 'xapp-1' }, { SLACK_SIGNING_SECRET: 'secret-123', SLACK_APP_TOKEN: 'xapp-1' }]) {
      expect(problems(env)).toEqual([expect.stringMatching(/but SLACK_BOT_TOKEN is missing/)]);
    }
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' })).toEqual([]);
  });

  it('binds to loopback in console mode and everywhere for Slack, unless FIREBREAK_HOST says otherwise', () => {
    const slack = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123' };
    expect(listenHost(loadConfig({}))).toBe('127.0.0.1');
    expect(listenHost(loadConfig(slack))).toBeUndefined();
    expect(listenHost(loadConfig({ FIREBREAK_HOST: '0.0.0.0' }))).toBe('0.0.0.0');
    expect(configWarnings(loadConfig({ FIREBREAK_HOST: '0.0.0.0' }))).toEqual([expect.stringContaining('reachable from other machines')]);
    expect(listenHost(loadConfig({ ...slack, FIREBREAK_HOST: '10.0.0.5' }))).toBe('10.0.0.5');
  });

  it('serves the console next to Slack only when FIREBREAK_CONSOLE_WITH_SLACK is true', () => {
    const slack = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123' };
    expect(consoleServed(loadConfig({}))).toBe(true);
    expect(consoleServed(loadConfig(slack))).toBe(false);
    expect(consoleServed(loadConfig({ ...slack, FIREBREAK_CONSOLE_WITH_SLACK: 'true' }))).toBe(true);
    expect(problems({ FIREBREAK_CONSOLE_WITH_SLACK: 'maybe' })).toEqual([expect.stringMatching(/^console\.withSlack \| env FIREBREAK_CONSOLE_WITH_SLACK \| expected boolean/)]);
  });

  it('refuses SNS topics by default; allowAnyTopic is explicit and warned about', () => {
    expect(loadConfig({}).alerts.receivers.sns).toEqual({ topicArns: [], allowAnyTopic: false });
    const open = yamlFile('alerts:\n  receivers:\n    sns:\n      allowAnyTopic: true\n');
    expect(configWarnings(loadConfig({ FIREBREAK_CONFIG: open }))).toEqual([expect.stringContaining('allowAnyTopic is true')]);
    const both = yamlFile('alerts:\n  receivers:\n    sns:\n      allowAnyTopic: true\n      topicArns: [arn:aws:sns:eu-west-1:123456789012:alarms]\n');
    expect(problems({ FIREBREAK_CONFIG: both })).toEqual([expect.stringContaining('not both')]);
    const fifo = yamlFile('alerts:\n  receivers:\n    sns:\n      topicArns: [arn:aws:sns:eu-west-1:123456789012:alarms.fifo, arn:aws-us-gov:sns:us-gov-west-1:123456789012:gov-alarms]\n');
    expect(loadConfig({ FIREBREAK_CONFIG: fifo }).alerts.receivers.sns.topicArns).toHaveLength(2);
    expect(problems({ FIREBREAK_CONFIG: yamlFile('alerts:\n  receivers:\n    sns:\n      topicArns: [prod-alarms]\n') })).toEqual([expect.stringContaining('an SNS topic ARN')]);
    const testOnly = yamlFile('alerts:\n  receivers:\n    sns:\n      testEndpoint: http://127.0.0.1:9\n');
    expect(problems({ FIREBREAK_CONFIG: testOnly })).toEqual([expect.stringContaining('testEndpoint')]);
  });

  it('names every bad key, where it came from and what was expected', () => {
    const file = yamlFile('incidents:\n  channel: 42\n  duplicateWindowSeconds: soon\n');
    const p = problems({ FIREBREAK_CONFIG: file, PORT: 'eighty', SLACK_BOT_TOKEN: 'not-a-token' });
    expect(p).toContain('port | env PORT | expected number');
    expect(p).toContain('incidents.channel | file ' + file + ' | expected string');
    expect(p.some((x) => x.startsWith('incidents.duplicateWindowSeconds | file ' + file))).toBe(true);
    expect(p.some((x) => x.startsWith('slack.botToken | env SLACK_BOT_TOKEN | a bot token starting with xoxb-'))).toBe(true);
  });

  it('reports unknown keys instead of silently ignoring a typo', () => {
    const file = yamlFile('incidnets:\n  channel: war-rooms\nincidents:\n  chanel: x\n');
    expect(problems({ FIREBREAK_CONFIG: file })).toEqual([
      `incidnets | file ${file} | unknown key (a typo? it would be ignored)`,
      `incidents.chanel | file ${file} | unknown key (a typo? it would be ignored)`,
    ]);
  });

  it('refuses secrets in the YAML file and reads them from <VAR>_FILE', () => {
    const file = yamlFile('slack:\n  botToken: xoxb-in-a-file\n');
    expect(problems({ FIREBREAK_CONFIG: file })[0]).toMatch(/^slack.botToken \| file .* is a secret .* set SLACK_BOT_TOKEN/);
    const secretFile = yamlFile('xoxb-from-secret-file\n');
    expect(loadConfig({ SLACK_BOT_TOKEN_FILE: secretFile, SLACK_APP_TOKEN: 'xapp-1' }).slack.botToken).toBe('xoxb-from-secret-file');
  });

  it('reports an unreadable or malformed file', () => {
    expect(problems({ FIREBREAK_CONFIG: path.join(dir, 'missing.yml') })[0]).toMatch(/^\(file\) \| env FIREBREAK_CONFIG=.* cannot read YAML/);
    expect(problems({ FIREBREAK_CONFIG: yamlFile('- a\n- b\n') })[0]).toMatch(/^\(root\) .* expected a YAML mapping/);
  });

  it('config check finds a broken comms template before an incident needs it', () => {
    const templates = mkdtempSync(path.join(os.tmpdir(), 'fb-templates-'));
    writeFileSync(path.join(templates, 'internal.md'), 'Status of {{titel}} is {{status}}\n');
    const cfg = yamlFile(`incidents:\n  templatesDir: ${templates}\n`);
    const env = { ...process.env, FIREBREAK_CONFIG: cfg, LOG_LEVEL: 'silent' };
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'config', 'check'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(path.join(templates, 'internal.md'));
    expect(check.stderr).toContain('unknown placeholder {{titel}}');
  }, 60_000);

  it('stops the process at start with exit code 1 and the list of problems; config check says the same', () => {
    const env = { ...process.env, PORT: 'eighty', DATABASE_URL: 'mysql://nope', LOG_LEVEL: 'silent' };
    const start = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(start.status).toBe(1);
    expect(start.stderr).toContain('port (from env PORT): expected number');
    expect(start.stderr).toContain('databaseUrl (from env DATABASE_URL): a postgres:// connection URL');
    expect(start.stderr).not.toContain('mysql://nope');
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'config', 'check'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('port (from env PORT): expected number');
  }, 60_000);

  it('config check in Slack mode names a missing backup key; the console generates a trial key instead', () => {
    const base = { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://x@127.0.0.1/x', FIREBREAK_BACKUP_RECIPIENT: '', FIREBREAK_BACKUP_IDENTITY: '' };
    const slack = { ...base, SLACK_BOT_TOKEN: 'xoxb-check-0123456789', SLACK_SIGNING_SECRET: 'signing-secret-0123456789' };
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'config', 'check'], { env: slack, encoding: 'utf8', timeout: 30_000 });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('backups.encryption.recipient: no encryption key: set FIREBREAK_BACKUP_RECIPIENT');
    const consoleCheck = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'config', 'check'], { env: base, encoding: 'utf8', timeout: 30_000 });
    expect(consoleCheck.stderr).toBe('');
    expect(consoleCheck.status).toBe(0);
  }, 60_000);
});
