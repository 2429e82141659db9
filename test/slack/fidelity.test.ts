/**
 * Long, unicode-heavy and markup-heavy input through every incident command and modal, the
 * alert path and the audit log. The fake Slack checks each payload against Slack's documented
 * limits (test/setup/slack-fidelity.ts fails a test that sent one Slack would refuse); the
 * assertions here check that nothing was lost silently and nothing was escaped twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FakeClock, MINUTE } from '../../src/clock.js';
import { AM_TOKEN, amBody, bearer, post, stepAndDrain } from '../alerts/support.js';
import type { FakeMessage } from '../support/fake-slack.js';

/** What Slack sends for typed text: `&`, `<`, `>` escaped. */
const slackEscaped = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const all = (msgs: FakeMessage[]) => msgs.map((m) => `${m.text}\n${JSON.stringify(m.blocks ?? [])}`).join('\n');
/** Every payload Firebreak sent to Slack in this file so far. */
const everything = (t: TestApp) => JSON.stringify([t.slack.calls.map((c) => c.args), t.slack.responses.map((r) => r.body)]);

// Emoji made of surrogate pairs and ZWJ sequences, so a cut by UTF-16 units would split one.
const EMOJI = '🔥👩‍🚒🇪🇺';
const long = (n: number, unit = `db & cache <fail> ${EMOJI} `) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n).replace(/[\uD800-\uDBFF]$/, 'x');

let t: TestApp;
let channel = '';
let id = 0;

beforeAll(async () => {
  t = await startTestApp({
    clock: new FakeClock('2026-03-09T10:00:00Z'),
    seedChannels: ['incidents', 'ops', 'approvals', 'alerts'],
    config: {
      alerts: {
        receivers: { alertmanager: { bearerToken: AM_TOKEN } },
        maxAlertsShown: 40,
        route: { channel: 'alerts', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' },
      },
    },
  });
  const title = `Checkout & payments <down> ${EMOJI.repeat(15)}`;
  await t.slash(`/incident declare P2 ${slackEscaped(title)}`);
  await t.settle();
  const row = (await t.db.pool.query('SELECT * FROM incidents ORDER BY id DESC LIMIT 1')).rows[0];
  id = row.id;
  channel = row.channel_id;
});
afterAll(() => t.stop());

describe('text typed in Slack is decoded once and escaped once', () => {
  it('stores the plain title and shows it escaped exactly once; the header is cut between emoji', async () => {
    const row = (await t.db.pool.query('SELECT title FROM incidents WHERE id = $1', [id])).rows[0];
    expect(row.title.startsWith('Checkout & payments <down> ')).toBe(true);
    const shown = all(t.slack.messagesIn('incidents'));
    expect(shown).toContain('Checkout &amp; payments &lt;down&gt;');
    expect(everything(t)).not.toMatch(/&amp;(amp|lt|gt);/);
    const header = (t.slack.messagesIn(channel)[0]!.blocks as { type: string; text?: { text: string } }[]).find((b) => b.type === 'header')!;
    expect(header.text!.text.length).toBeLessThanOrEqual(150);
    expect(header.text!.text.endsWith('…')).toBe(true);
  });

  it('/incident update with 2,800 characters: all of it in the channel, the #incidents copy says where the rest is', async () => {
    const text = long(2800);
    await t.slash(`/incident update ${slackEscaped(text)}`, { channel });
    await t.settle();
    const posted = t.slack.messagesIn(channel).find((m) => m.text.startsWith('Update on'))!;
    const sections = (posted.blocks as { text: { text: string } }[]).map((b) => b.text.text).join('');
    // Every character the person typed is shown (escaped once), across as many sections as it takes.
    expect(sections.replace(/\n/g, '')).toContain(slackEscaped(text).replace(/\n/g, ''));
    const copy = all(t.slack.messagesIn('incidents').filter((m) => m.text.includes('update:')));
    expect(copy).toMatch(/more characters: the full update is in <#C/);
  });

  it('the update modal takes 2,800 characters with & in URLs (modal values are not escaped by Slack)', async () => {
    const text = long(2800, 'see https://grafana.example/d?a=1&b=2 & retry ');
    const res = await t.submitView('incident.update', { text }, { privateMetadata: JSON.stringify({ incidentId: id }) });
    expect(res.status).toBe(200);
    await t.settle();
    const posted = all(t.slack.messagesIn(channel).filter((m) => m.text.startsWith('Update on')));
    expect(posted).toContain('a=1&amp;b=2 &amp; retry');
    expect(everything(t)).not.toMatch(/&amp;(amp|lt|gt);/);
  });

  it('the update draft in the modal is plain text, so posting it unchanged shows each & once', async () => {
    const { triggerId } = await t.slash('/incident update', { channel });
    await t.settle();
    const view = t.slack.views.find((v) => v.trigger_id === triggerId)!.view as { blocks: { element?: { initial_value?: string } }[] };
    const draft = view.blocks.map((b) => b.element?.initial_value).find(Boolean)!;
    expect(draft).toContain('Checkout & payments <down>');
    await t.submitView('incident.update', { text: draft }, { privateMetadata: JSON.stringify({ incidentId: id }) });
    await t.settle();
    const posted = all(t.slack.messagesIn(channel).filter((m) => m.text.startsWith('Update on')).slice(-1));
    expect(posted).toContain('Checkout &amp; payments &lt;down&gt;');
    expect(posted).not.toMatch(/&amp;(amp|lt|gt);/);
  });

  it('/incident reopen with a 5,000-character reason and /incident resolve with a 2,800-character summary stay valid', async () => {
    await t.slash(`/incident resolve ${slackEscaped(long(2800))}`, { channel });
    await t.settle();
    const reason = long(5000, `rollback & retry ${EMOJI} `);
    await t.slash(`/incident reopen ${slackEscaped(reason)}`, { channel });
    await t.settle();
    const row = (await t.db.pool.query('SELECT status FROM incidents WHERE id = $1', [id])).rows[0];
    expect(row.status).toBe('investigating');
    const drafts = all(t.slack.messagesIn(channel).filter((m) => m.text.includes('Resolved notice')));
    expect(drafts).toContain('Resolved notice');
    // The whole reason is shown, over several sections rather than one oversized context.
    const reopened = t.slack.messagesIn(channel).find((m) => m.text.includes('reopened'))!;
    const sections = (reopened.blocks as { type: string; text?: { text: string } }[]).filter((b) => b.type === 'section').map((b) => b.text!.text).join('');
    expect(sections.replace(/\n/g, '')).toContain(slackEscaped(reason).trim());
  });

  it('the declare modal with a pasted HTML error page: the headline holds it escaped once, within the limits', async () => {
    const page = long(2000, '<html><body><h1>502 Bad Gateway</h1> & <!channel> </body></html>\n');
    const res = await t.submitView('incident.declare', { title: `HTML ${EMOJI}`, severity: 'P3', summary: page }, { selectBlocks: ['severity'], privateMetadata: JSON.stringify({ channelId: 'C0GENERAL' }) });
    expect(res.status).toBe(200);
    await t.settle();
    const row = (await t.db.pool.query("SELECT * FROM incidents WHERE title LIKE 'HTML%'")).rows[0];
    expect(row.summary).toBe(page.trim());
    const headline = all(t.slack.messagesIn(row.channel_id).slice(0, 1));
    expect(headline).toContain('&lt;h1&gt;502 Bad Gateway&lt;/h1&gt; &amp; &lt;!channel&gt;');
    expect(headline).not.toContain('<!channel>');
  });
});

describe('long lists say what they leave out', () => {
  it('/incident list with 30 open incidents lists all 30 without cutting a mention', async () => {
    const before = Number((await t.db.pool.query("SELECT count(*) AS n FROM incidents WHERE status <> 'resolved'")).rows[0].n);
    for (let i = before; i < 30; i++) {
      await t.slash(`/incident declare P4 ${slackEscaped(`Noisy neighbour #${i} & friends ${EMOJI} ${'x'.repeat(60)}`)}`, { user: 'U0BOB' });
    }
    await t.settle();
    const { responseId } = await t.slash('/incident list');
    await t.settle();
    const reply = t.slack.responses.find((r) => r.url === `/response/${responseId}`)!.body;
    const shown = JSON.stringify(reply.blocks);
    expect(shown).toContain('30 open incidents');
    expect(shown.match(/\*INC-\d+\*/g)).toHaveLength(30);
    expect(shown).not.toMatch(/<@(?![A-Z0-9]+>)/);
  });

  it('/audit log --limit 50 cuts long, emoji-heavy entries between characters', async () => {
    const { responseId } = await t.slash('/audit log --limit 50');
    await t.settle();
    const reply = t.slack.responses.find((r) => r.url === `/response/${responseId}`)!.body;
    expect(JSON.stringify(reply.blocks)).toContain('Audit log');
  });
});

describe('alert text never becomes Slack markup, and long alert groups stay valid', () => {
  const am = (body: string) => post(t, '/webhooks/alertmanager', body, bearer(AM_TOKEN));

  it('escapes a hostile generatorURL and summary: no live @channel, no disguised link', async () => {
    const body = JSON.parse(amBody([{ labels: { alertname: 'Injected', severity: 'warning' }, annotations: { summary: '<!channel> hi' } }]));
    body.alerts[0].generatorURL = 'https://x> <!channel> pwned <https://evil.example';
    expect((await am(JSON.stringify(body))).status).toBe(200);
    await stepAndDrain(t, 31_000);
    const msg = t.slack.messagesIn('alerts').find((m) => m.text.includes('Injected'))!;
    const shown = all([msg]);
    expect(shown).toContain('&lt;!channel&gt; hi');
    expect(shown).not.toContain('<!channel>');
    expect(shown).not.toContain('evil.example');
    expect(shown).not.toContain('|source>');
  });

  it('45 alerts with long labels: the group lists 40, says "…and 5 more", and drops a 3,169-character runbook link with a note', async () => {
    const runbook = `https://grafana.example/explore?left=${'a'.repeat(3169 - 37)}`;
    expect(runbook).toHaveLength(3169);
    const alerts = Array.from({ length: 45 }, (_, i) => ({
      labels: { alertname: 'DiskFull', instance: `host-${i}-${'ü'.repeat(40)}${EMOJI}`, mount: `/var/lib/${'d'.repeat(60)}` },
      annotations: { summary: `Disk ${i} full & <nearly> ${EMOJI}`, runbook_url: runbook },
    }));
    expect((await am(amBody(alerts))).status).toBe(200);
    await stepAndDrain(t, 31_000);
    const msg = t.slack.messagesIn('alerts').find((m) => m.text.includes('DiskFull'))!;
    const shown = all([msg]);
    expect(shown).toContain('…and 5 more (45 firing, 0 resolved)');
    expect(shown).toContain('runbook link not shown: it is 3169 characters');
    expect(shown).not.toContain(runbook);
    expect(shown.match(/host-\d+-/g)!.length).toBeGreaterThanOrEqual(40);
  });

  it('declaring an incident from that group keeps every payload valid', async () => {
    const group = (await t.db.pool.query("SELECT id FROM alert_groups ORDER BY id DESC LIMIT 1")).rows[0];
    await t.click('alerts.declare', String(group.id), { channel: t.slack.channel('alerts')!.id });
    t.clock.advance(MINUTE);
    await t.settle();
    expect(everything(t)).not.toContain('<!channel>');
  });
});
