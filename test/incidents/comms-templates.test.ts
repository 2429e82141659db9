import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCommsTemplates, renderComms, templateProblems, validateCommsTemplates } from '../../src/templates/comms.js';
import { startTestApp, type TestApp } from '../support/app.js';
import type { Incident } from '../../src/incidents/model.js';

const dir = (files: Record<string, string>) => {
  const d = mkdtempSync(path.join(tmpdir(), 'fb-comms-'));
  for (const [name, body] of Object.entries(files)) writeFileSync(path.join(d, name), body);
  return d;
};

const incident: Incident = {
  id: 7, title: 'Search <slow>', severity: 'P2', status: 'identified', summary: null, service: null, declaredBy: 'U0A',
  commander: 'U0A', commsLead: null, techLead: null, channelId: 'C1', channelName: 'inc-7', headlineTs: null, setupErrors: {},
  declaredAt: new Date('2026-05-01T09:00:00Z'), acknowledgedAt: null, identifiedAt: null, mitigatedAt: null, resolvedAt: null,
  lastUpdateAt: null, missedReminders: 0,
};

describe('comms template files', () => {
  it('renders fields, fallbacks for empty ones, and escapes incident text', () => {
    const out = renderComms('customer', incident, { update: 'Index rebuilt.' });
    expect(out).toBe('We are aware of an issue affecting our service. Index rebuilt. We will post another update as soon as we know more.');
    expect(renderComms('internal', incident)).toContain('[P2] INC-7 Search &lt;slow&gt; — status: identified');
  });

  it('uses a team override and keeps the built-in for the rest', () => {
    const d = dir({ 'customer.md': 'Status: {{ref}} on {{service|the API}} is {{status}}.\n', 'README.md': 'not a template' });
    const { templates, problems } = loadCommsTemplates(d);
    expect(problems).toEqual([]);
    expect(renderComms('customer', incident, {}, templates)).toBe('Status: INC-7 on the API is identified.');
    expect(renderComms('executive', incident, {}, templates)).toContain('P2 (partial outage or degraded)');
  });

  it('reports every broken file by name and line, for config check', () => {
    const d = dir({
      'internal.md': 'Fine {{title}}\nBroken {{titel}} here\n',
      'executive.md': 'Unclosed {{status\n',
      'resolved.txt': '   \n',
      'custmer.md': 'typo in the file name',
    });
    const problems = validateCommsTemplates(d);
    expect(problems).toHaveLength(4);
    expect(problems.find((p) => p.startsWith(path.join(d, 'internal.md')))).toMatch(/line 2: unknown placeholder \{\{titel\}\}/);
    expect(problems.find((p) => p.startsWith(path.join(d, 'executive.md')))).toMatch(/line 1: unbalanced or malformed/);
    expect(problems.find((p) => p.startsWith(path.join(d, 'resolved.txt')))).toMatch(/it is empty/);
    expect(problems.find((p) => p.startsWith(path.join(d, 'custmer.md')))).toMatch(/not a template name \(expected internal.md, customer.md/);
    // A broken file leaves the built-in in place rather than failing an incident.
    expect(loadCommsTemplates(d).templates.internal).toContain('{{update|We are investigating.}}');
  });

  it('reports a missing or non-directory templatesDir, and accepts none configured', () => {
    expect(validateCommsTemplates(undefined)).toEqual([]);
    expect(validateCommsTemplates('/nonexistent/fb-templates')[0]).toMatch(/cannot read .*ENOENT/);
    const d = dir({ 'x.md': 'x' });
    expect(validateCommsTemplates(path.join(d, 'x.md'))[0]).toMatch(/is not a directory/);
    expect(templateProblems('a'.repeat(3000))[0]).toMatch(/limit is 2800/);
  });
});

describe('overrides in a running app', () => {
  let t: TestApp;
  beforeAll(async () => {
    const d = dir({});
    mkdirSync(path.join(d, 'sub'));
    writeFileSync(path.join(d, 'internal.md'), 'ACME internal: {{ref}} {{title}} ({{severity}}) — {{update|no news yet}}');
    t = await startTestApp({ config: { incidents: { templatesDir: d } } });
  });
  afterAll(() => t.stop());

  it('posts the team template at declare and prefills the update modal with it', async () => {
    await t.slash('/incident declare P3 Broker restarts');
    await t.settle();
    const r = (await t.db.pool.query("SELECT id, channel_id FROM incidents WHERE title = 'Broker restarts'")).rows[0];
    const draft = t.slack.messagesIn(r.channel_id).find((m) => JSON.stringify(m.blocks ?? []).includes('ACME internal'));
    expect(JSON.stringify(draft?.blocks)).toContain(`ACME internal: INC-${r.id} Broker restarts (P3) — no news yet`);
    await t.slash('/incident update', { channel: r.channel_id });
    await t.settle();
    expect(JSON.stringify(t.slack.views.at(-1)!.view)).toContain(`ACME internal: INC-${r.id} Broker restarts (P3)`);
  });
});
