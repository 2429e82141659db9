/**
 * Silences at the source, against the real Prometheus Alertmanager 0.25: the Silence button's
 * modal creates a real silence (matchers, creator, comment), Alertmanager then stops notifying
 * for a new matching alert, Expire makes the notifications resume, and a silence made with
 * Alertmanager's own API shows up on the group's message. A second receiver of the same
 * Alertmanager proves the silence stops every receiver, not only Firebreak.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { freePort } from '../setup/global.js';
import { AM_TOKEN } from '../alerts/support.js';
import { startAlertmanager, type RealAlertmanager } from './am.js';
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { AMTOOL } from '../alerts/amtool.js';

let t: TestApp;
let am: RealAlertmanager;
/** Another receiver of the same Alertmanager (think PagerDuty): the instances it was notified about. */
let other: Server;
const otherHeard: string[] = [];

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    // Keep Firebreak's fake clock at or just ahead of real time: Alertmanager judges silences on
    // its own (real) clock, so a silence must not start in its future.
    t.clock.set(Math.max(t.clock.now().getTime() + 250, Date.now()));
    await t.settle();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; alertmanager log:\n${am.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const blocksText = (m: { blocks?: unknown[] } | undefined) => JSON.stringify(m?.blocks ?? []);
const message = (title: string) => t.slack.messagesIn('db-alerts').find((m) => !m.thread_ts && m.text.includes(title));
const buttonValue = (m: { blocks?: unknown[] } | undefined, actionId: string) => new RegExp(`"action_id":"${actionId.replace('.', '\\.')}","value":"([^"]+)"`).exec(blocksText(m))?.[1];
const alertRows = async (instance: string) => (await t.db.pool.query(`SELECT status FROM alerts WHERE labels->>'instance' = $1`, [instance])).rows;

beforeAll(async () => {
  const port = await freePort();
  t = await startTestApp({
    seedChannels: ['incidents', 'alerts', 'db-alerts', 'ops', 'approvals'],
    config: {
      alerts: {
        receivers: { alertmanager: { bearerToken: AM_TOKEN } },
        route: { group_by: ['alertname'], group_wait: '0s', group_interval: '0s', routes: [{ matchers: ['team="db"'], channel: 'db-alerts' }] },
        alertmanagers: [{ name: 'main', urls: [`http://127.0.0.1:${port}`], sources: ['alertmanager'] }],
        silences: { pollSeconds: 30 },
      },
    },
  });
  other = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const payload = JSON.parse(body) as { alerts: { status: string; labels: Record<string, string> }[] };
      for (const a of payload.alerts) if (a.status === 'firing') otherHeard.push(a.labels.instance ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  am = await startAlertmanager(port, `${t.url}/webhooks/alertmanager`, `http://127.0.0.1:${(other.address() as { port: number }).port}/hook`);
});

afterAll(async () => {
  await am?.stop();
  await t?.stop();
  await new Promise((r) => other?.close(r));
});

describe('silences at the source (real Alertmanager)', () => {
  let groupId = '';

  it('Silence opens a modal prefilled with the group labels; submitting it creates the silence with matchers and creator', async () => {
    await am.pushAlerts([{ labels: { alertname: 'DiskFull', team: 'db', instance: 'db-1', severity: 'warning' } }]);
    const msg = await until('the DiskFull message', async () => message('DiskFull'));
    groupId = buttonValue(msg, 'alerts.silence')!;
    expect(groupId).toMatch(/^\d+$/);

    await t.click('alerts.silence', groupId, { user: 'U0ALICE', channel: t.slack.channel('db-alerts')!.id, messageTs: msg.ts });
    await t.settle();
    const opened = t.slack.views.at(-1)!.view as { callback_id: string; private_metadata: string; blocks: unknown[] };
    expect(opened.callback_id).toBe('alerts.silence');
    const initial = JSON.stringify(opened.blocks);
    expect(initial).toContain('alertname=\\"DiskFull\\"');
    expect(initial).toContain('team=\\"db\\"');
    expect(initial).toContain('Creates a silence in *Alertmanager main*');
    expect(t.slack.takeViolations()).toEqual([]);

    const res = await t.submitView('alerts.silence', { duration: '1h', custom_duration: '', matchers: 'alertname="DiskFull"\nteam="db"', comment: 'disk being replaced' }, { user: 'U0ALICE', privateMetadata: opened.private_metadata, selectBlocks: ['duration'] });
    expect(res.status).toBe(200);
    const made = await until('the silence in Alertmanager', async () => (await am.silences()).find((s) => s.status.state === 'active'));
    expect(made.createdBy).toBe('u0alice');
    expect(made.comment).toBe('disk being replaced');
    expect(made.matchers.map((m) => `${m.name}=${m.value}:${m.isRegex}:${m.isEqual}`).sort()).toEqual(['alertname=DiskFull:false:true', 'team=db:false:true']);

    const shown = await until('the silence on the message', async () => {
      const m = message('DiskFull');
      return blocksText(m).includes(made.id) ? m : undefined;
    });
    expect(blocksText(shown)).toContain('silenced in Alertmanager main by <@U0ALICE>');
    expect(buttonValue(shown, 'alerts.expire_silence')).toBe(`main/${made.id}`);
    expect(blocksText(shown)).not.toContain('"action_id":"alerts.silence"');
    // The modal closed at once; the person hears the outcome in the channel they pressed it in.
    const told = t.slack.messagesIn('db-alerts').filter((m) => m.ephemeralTo === 'U0ALICE').map((m) => m.text).join('\n');
    expect(told).toContain(`silence id \`${made.id}\``);
  });

  it('a new alert matching the silence no longer reaches Firebreak; Expire silence makes notifications resume', async () => {
    await am.pushAlerts([
      { labels: { alertname: 'DiskFull', team: 'db', instance: 'db-2', severity: 'warning' } },
      // A control alert no silence covers: once it has arrived, Alertmanager has flushed.
      { labels: { alertname: 'Canary', team: 'db', instance: 'canary-1' } },
    ]);
    await until('the control alert', async () => ((await alertRows('canary-1')).length ? true : undefined));
    const suppressed = await until('Alertmanager to mute db-2', async () => (await am.alertStatus('instance="db-2"')).find((a) => a.status.state === 'suppressed'));
    expect(suppressed.status.silencedBy.length).toBe(1);
    // Alertmanager's group interval is 1 s: a second control flush proves db-2 had its chance.
    await am.pushAlerts([{ labels: { alertname: 'Canary', team: 'db', instance: 'canary-2' } }]);
    await until('the second control alert', async () => ((await alertRows('canary-2')).length ? true : undefined));
    expect(await alertRows('db-2')).toEqual([]);
    // Nor did any other receiver of that Alertmanager hear about it: the silence is at the source.
    await until('the other receiver to hear the second control alert', async () => (otherHeard.includes('canary-2') ? true : undefined));
    expect(otherHeard).not.toContain('db-2');

    const value = buttonValue(message('DiskFull'), 'alerts.expire_silence')!;
    const { responseId } = await t.click('alerts.expire_silence', value, { user: 'U0BOB' });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toMatch(/Expired silence/);
    expect((await am.silences()).find((s) => `main/${s.id}` === value)!.status.state).toBe('expired');
    await until('db-2 to reach Firebreak after the silence ended', async () => ((await alertRows('db-2')).length ? true : undefined));
    await until('db-2 to reach the other receiver too', async () => (otherHeard.includes('db-2') ? true : undefined));
    const after = await until('the message without the silence', async () => {
      const m = message('DiskFull');
      return blocksText(m).includes('"action_id":"alerts.silence"') ? m : undefined;
    });
    expect(blocksText(after)).not.toContain('silenced in Alertmanager');
  });

  it('/alerts silence and /alerts silences work on the same Alertmanager; bad input gets a clear answer and creates nothing', async () => {
    const before = (await am.silences()).length;
    for (const [line, expected] of [
      ['/alerts silence alertname 1h comment', /bad format/],
      ['/alerts silence alertname="DiskFull 1h comment', /unescaped double quote|duration/],
      ['/alerts silence alertname=~"(" 1h comment', /not a valid regular expression/],
      ['/alerts silence alertname="DiskFull" 0s comment', /is zero/],
      ['/alerts silence alertname="DiskFull" -5m comment', /negative/],
      ['/alerts silence alertname="DiskFull" 1h', /comment is required/],
      ['/alerts silence alertname=~".*" 1h matches everything', /at least one matcher must not match the empty string/],
      ['/alerts unsilence 00000000-0000-4000-8000-000000000000', /no silence `00000000-0000-4000-8000-000000000000`/],
      ['/alerts unsilence <script>', /is not a silence id/],
    ] as const) {
      const { responseId } = await t.slash(line, { channel: t.slack.channel('db-alerts')!.id });
      await t.settle();
      expect(t.slack.replies(responseId).join(), line).toMatch(expected);
      expect(t.slack.replies(responseId).join(), line).not.toContain('<script>');
    }
    expect((await am.silences()).length).toBe(before);

    const { responseId } = await t.slash('/alerts silence {alertname="Canary", instance=~"canary-.*"} 2h canary maintenance', { user: 'U0CAROL', channel: t.slack.channel('db-alerts')!.id });
    await t.settle();
    expect(t.slack.replies(responseId).join()).toMatch(/Silenced at the source, in \*Alertmanager main\*/);
    const made = (await am.silences()).find((s) => s.comment === 'canary maintenance')!;
    expect(made.createdBy).toBe('u0carol');
    expect(made.matchers.find((m) => m.name === 'instance')).toMatchObject({ value: 'canary-.*', isRegex: true, isEqual: true });

    const listed = await t.slash('/alerts silences canary', { channel: t.slack.channel('db-alerts')!.id });
    await t.settle();
    const reply = JSON.stringify(t.slack.responses.filter((r) => r.url === `/response/${listed.responseId}`).map((r) => r.body.blocks));
    expect(reply).toContain(made.id);
    expect(reply).not.toContain('disk being replaced');
    expect(t.slack.takeViolations()).toEqual([]);
  });

  it('a silence made with Alertmanager\'s API appears on the matching message after the next poll', async () => {
    const now = new Date();
    const res = await fetch(`${am.url}/api/v2/silences`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true }], startsAt: now.toISOString(), endsAt: new Date(now.getTime() + 3_600_000).toISOString(), createdBy: 'bob-from-amtool <!channel>', comment: 'made <elsewhere>' }),
    });
    expect(res.status).toBe(200);
    // The poll runs once per alerts.silences.pollSeconds slot: move Firebreak's clock to the next one.
    t.clock.advance(30_000);
    const m = await until('the API-made silence on the message', async () => {
      const x = message('DiskFull');
      return blocksText(x).includes('bob-from-amtool') ? x : undefined;
    });
    // The creator is outside text: shown, never turned into Slack markup.
    expect(blocksText(m)).toContain('silenced in Alertmanager main by bob-from-amtool &lt;!channel&gt;');
    expect(blocksText(m)).not.toContain('<!channel>');
    // The buttons follow: every firing alert is silenced at the source, so Expire (this silence) replaces Silence….
    const made = (await am.silences()).find((x) => x.createdBy.startsWith('bob-from-amtool') && x.status.state === 'active')!;
    expect(buttonValue(m, 'alerts.expire_silence')).toBe(`main/${made.id}`);
    expect(blocksText(m)).not.toContain('"action_id":"alerts.silence"');
  });
});

describe('silences expired elsewhere', () => {
  it('a silence made from the message and expired in Alertmanager ends the group\'s mute at the next poll', async () => {
    const msg = message('DiskFull')!;
    const gid = String((await t.db.pool.query(`SELECT id FROM alert_groups WHERE group_labels->>'alertname' = 'DiskFull'`)).rows[0].id);
    await t.click('alerts.silence', gid, { user: 'U0ALICE', channel: t.slack.channel('db-alerts')!.id, messageTs: msg.ts });
    await t.settle();
    const opened = t.slack.views.at(-1)!.view as { private_metadata: string };
    await t.submitView('alerts.silence', { duration: '1h', custom_duration: '', matchers: 'alertname="DiskFull"', comment: 'second one' }, { user: 'U0ALICE', privateMetadata: opened.private_metadata, selectBlocks: ['duration'] });
    const ours = await until('the second silence', async () => (await am.silences()).find((s) => s.comment === 'second one' && s.status.state === 'active'));
    for (const s of (await am.silences()).filter((x) => x.status.state === 'active')) {
      expect((await fetch(`${am.url}/api/v2/silence/${s.id}`, { method: 'DELETE' })).status).toBe(200);
    }
    t.clock.advance(30_000);
    const m = await until('the message without any silence', async () => {
      const x = message('DiskFull');
      return blocksText(x).includes('"action_id":"alerts.silence"') ? x : undefined;
    });
    expect(blocksText(m)).not.toContain(ours.id);
    expect(blocksText(m)).not.toContain('muted in Firebreak only');
  });
});

describe('silences made and expired with amtool', () => {
  it('appear on the message with Expire at the next poll, and go again when amtool expires them', async () => {
    const bin = AMTOOL;
    if (!bin) throw new Error('amtool is not installed: run scripts/test-deps.sh');
    const amtool = (...args: string[]) => execFileSync(bin, [...args, `--alertmanager.url=${am.url}`], { encoding: 'utf8' }).trim();
    const id = amtool('silence', 'add', 'alertname=DiskFull', '--author=ops-amtool', '--comment=via amtool', '--duration=1h');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    t.clock.advance(30_000);
    const m = await until('the amtool silence on the message', async () => {
      const x = message('DiskFull');
      return blocksText(x).includes(id) ? x : undefined;
    });
    expect(blocksText(m)).toContain('silenced in Alertmanager main by ops-amtool');
    expect(buttonValue(m, 'alerts.expire_silence')).toBe(`main/${id}`);
    expect(blocksText(m)).not.toContain('"action_id":"alerts.silence"');

    amtool('silence', 'expire', id);
    t.clock.advance(30_000);
    const after = await until('the message without the amtool silence', async () => {
      const x = message('DiskFull');
      return blocksText(x).includes(id) ? undefined : x;
    });
    expect(blocksText(after)).toContain('"action_id":"alerts.silence"');
    expect(blocksText(after)).not.toContain('"action_id":"alerts.expire_silence"');
  });
});

describe('Alertmanager down', () => {
  it('says so and leaves nothing half-done', async () => {
    const port = await freePort();
    const down = await startTestApp({
      config: { alerts: { alertmanagers: [{ name: 'gone', urls: [`http://127.0.0.1:${port}`], sources: ['alertmanager'] }] } },
    });
    try {
      const { responseId } = await down.slash('/alerts silence alertname="X" 1h testing');
      await down.settle();
      expect(down.slack.replies(responseId).join()).toMatch(/Alertmanager "gone" is unreachable .*Nothing was silenced/);
      expect((await down.db.pool.query('SELECT count(*)::int AS n FROM alert_silences')).rows[0].n).toBe(0);
      const unsilence = await down.slash('/alerts unsilence 6a5e2b0c-0000-4000-8000-000000000001');
      await down.settle();
      expect(down.slack.replies(unsilence.responseId).join()).toMatch(/Alertmanager "gone" is unreachable .*The silence was not expired; try again/);
      const mw = await down.slash('/alerts maintenance alertname="X" 1h reboot');
      await down.settle();
      expect(down.slack.replies(mw.responseId).join()).toMatch(/Alertmanager "gone" is unreachable .*The maintenance window was not started and nothing is silenced/);
      expect((await down.db.pool.query('SELECT count(*)::int AS n FROM maintenance_windows')).rows[0].n).toBe(0);
    } finally {
      await down.stop();
    }
  });
});

describe('one of two Alertmanagers down during a maintenance start', () => {
  it('expires the silence already made at the one that answered: all or nothing', async () => {
    const port = await freePort();
    const half = await startTestApp({
      config: {
        alerts: {
          alertmanagers: [
            { name: 'main', urls: [am.url], sources: ['alertmanager'] },
            { name: 'gone', urls: [`http://127.0.0.1:${port}`], sources: ['grafana'] },
          ],
        },
      },
    });
    try {
      half.clock.set(Date.now());
      const { responseId } = await half.slash('/alerts maintenance alertname="HalfDone" 1h kernel update');
      await half.settle();
      expect(half.slack.replies(responseId).join()).toMatch(/Alertmanager "gone" is unreachable .*The maintenance window was not started and nothing is silenced/);
      const made = (await am.silences()).filter((x) => x.comment.includes('kernel update'));
      expect(made).toHaveLength(1);
      expect(made[0]!.status.state).toBe('expired');
      expect((await half.db.pool.query('SELECT count(*)::int AS n FROM maintenance_windows')).rows[0].n).toBe(0);
      expect((await half.db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'maintenance.started'`)).rows[0].n).toBe(0);
    } finally {
      await half.stop();
    }
  });
});
