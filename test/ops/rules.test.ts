import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registry } from '../../src/ops/metrics.js';

const RULES = path.resolve('deploy/prometheus/firebreak-rules.yml');
interface Rule { alert: string; expr: string; labels?: Record<string, string>; annotations: Record<string, string> }
const rules: Rule[] = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const promtool = spawnSync('promtool', ['--version']).status === 0;
const tmp = mkdtempSync(path.join(tmpdir(), 'fb-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A promtool expectation: at `evalTime` the rule fires once for target shop, linking its runbook. */
const firesForShop = (evalTime: string, alertname: string, severity: string, runbook: string, text: { summary: string; description: string }) => ({
  eval_time: evalTime, alertname,
  exp_alerts: [{
    exp_labels: { severity, target: 'shop' },
    exp_annotations: { ...text, runbook_url: `https://firebreak.example.com/runbooks/${runbook}` },
  }],
});

describe('deploy/prometheus/firebreak-rules.yml', () => {
  it('covers backup stale, drill failed and Slack errors, each rule linking to a shipped runbook', () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['FirebreakBackupStale', 'FirebreakDrDrillFailed', 'FirebreakSlackErrors', 'FirebreakBackupFailed', 'FirebreakDatabaseUnreachable']));
    for (const r of rules) {
      const url = r.annotations.runbook_url;
      expect(url, r.alert).toMatch(/^https:\/\/[^/]+\/runbooks\/[a-z0-9-]+$/);
      const name = url!.split('/').pop()!;
      expect(existsSync(path.join('runbooks', `${name}.md`)), `${r.alert} -> ${name}`).toBe(true);
      expect(r.labels?.severity, r.alert).toMatch(/^P[0-4]$/);
    }
  });

  it('uses only metric names Firebreak exports', async () => {
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const r of rules) {
      const names = r.expr.match(/\bfirebreak_[a-z_]+/g) ?? [];
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${r.alert}: ${n}`).toBe(true);
    }
  });

  it.skipIf(!promtool)('is valid for Prometheus (promtool check rules)', () => {
    const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it.skipIf(!promtool)('fires on a stale backup and a failed drill, and stays quiet when both are fine (promtool test rules)', () => {
    const test = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // Last good backup at t=0 and never again: stale after 90 minutes (+5m for:).
            { series: 'firebreak_backup_last_success_timestamp_seconds{target="shop"}', values: '0x200' },
            // A fresh backup every minute: never stale.
            { series: 'firebreak_backup_last_success_timestamp_seconds{target="fresh"}', values: '0+60x200' },
            { series: 'firebreak_dr_last_drill_success{target="shop"}', values: '1x10 0x10' },
          ],
          alert_rule_test: [
            { eval_time: '60m', alertname: 'FirebreakBackupStale', exp_alerts: [] },
            firesForShop('100m', 'FirebreakBackupStale', 'P1', 'backup-stale', {
              summary: 'No verified backup of shop for over 90 minutes',
              description: 'The newest verified backup of shop finished 1h 40m 0s ago.',
            }),
            { eval_time: '5m', alertname: 'FirebreakDrDrillFailed', exp_alerts: [] },
            firesForShop('15m', 'FirebreakDrDrillFailed', 'P2', 'dr-drill-failed', {
              summary: 'The newest DR drill of shop did not pass',
              description: 'The last disaster-recovery drill failed or was interrupted: restores are unproven until one passes.',
            }),
          ],
        },
      ],
    };
    const file = path.join(tmp, 'rules-test.yml');
    writeFileSync(file, JSON.stringify(test));
    const r = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
