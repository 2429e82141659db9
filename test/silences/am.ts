/** A real Prometheus Alertmanager 0.25 for a test file, its webhook pointed at a Firebreak app. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AM_TOKEN } from '../alerts/support.js';

const BIN = ['/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager'].find((b) => spawnSync(b, ['--version']).status === 0);

export interface RealAlertmanager {
  url: string;
  log(): string;
  pushAlerts(alerts: { labels: Record<string, string>; annotations?: Record<string, string>; endsAt?: string }[]): Promise<void>;
  silences(): Promise<{ id: string; status: { state: string }; createdBy: string; comment: string; matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[] }[]>;
  /** Alertmanager's own view of an alert: its state and the silences muting it. */
  alertStatus(filter: string): Promise<{ labels: Record<string, string>; status: { state: string; silencedBy: string[] } }[]>;
  stop(): Promise<void>;
}

/**
 * `otherReceiverUrl`: a second webhook on the same receiver, standing for every other receiver
 * (PagerDuty, e-mail): what a silence at the source must stop too.
 */
export async function startAlertmanager(port: number, webhookUrl: string, otherReceiverUrl?: string): Promise<RealAlertmanager> {
  if (!BIN) throw new Error('prometheus-alertmanager is not installed: run scripts/test-deps.sh (apt-get install prometheus-alertmanager)');
  const dir = mkdtempSync(path.join(tmpdir(), 'fb-am-sil-'));
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(path.join(dir, 'am.yml'), `
route:
  receiver: firebreak
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: firebreak
  webhook_configs:
  - url: ${webhookUrl}
    send_resolved: true
    http_config:
      authorization:
        type: Bearer
        credentials: ${AM_TOKEN}
${otherReceiverUrl ? `  - url: ${otherReceiverUrl}
    send_resolved: true
` : ''}`);
  let log = '';
  const am: ChildProcess = spawn(BIN, [`--config.file=${path.join(dir, 'am.yml')}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: ['ignore', 'pipe', 'pipe'] });
  am.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  am.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`alertmanager did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    pushAlerts: async (alerts) => {
      const startsAt = new Date(Date.now() - 60_000).toISOString();
      const res = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts.map((a) => ({ startsAt, annotations: {}, ...a }))) });
      if (res.status !== 200) throw new Error(`alertmanager refused alerts: ${res.status} ${await res.text()}`);
    },
    silences: async () => (await fetch(`${url}/api/v2/silences`)).json() as never,
    alertStatus: async (filter) => (await fetch(`${url}/api/v2/alerts?silenced=true&filter=${encodeURIComponent(filter)}`)).json() as never,
    stop: async () => {
      if (am.exitCode === null) {
        am.kill('SIGTERM');
        await new Promise((r) => am.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
