/**
 * The public page's output: HTML escaped (a hostile `<script>` title stays text), the JSON's
 * documented shape, Atom that an XML parser accepts with its required elements, links built
 * from a public URL with a sub-path, strict headers, and 404 while the page is off.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusAtom, statusHtml, statusJson, escapeHtml } from '../../src/statuspage/page.js';
import type { PublicStatusPage } from '../../src/statuspage/model.js';
import { configSchema } from '../../src/config/schema.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestApp, declareIncident, type TestApp } from '../support/app.js';
import { PUBLISH_KIND } from '../../src/statuspage/publish.js';

const HOSTILE = '<script>alert("x")</script> & "quotes" \'single\'';
const BASE = 'https://example.test/ops/';
const now = new Date('2026-12-03T12:00:00Z');
const page: PublicStatusPage = {
  title: 'Acme <status>',
  generatedAt: now,
  overall: 'partial_outage',
  components: [
    { id: 'api', name: 'API <v2>', group: 'Core & more', description: '<b>bold</b>', state: 'partial_outage', updatedAt: now },
    { id: 'web', name: 'Web', group: null, description: null, state: 'operational', updatedAt: null },
  ],
  incidents: [
    {
      id: 7, title: HOSTILE, status: 'identified', createdAt: new Date('2026-12-03T10:00:00Z'), updatedAt: new Date('2026-12-03T11:00:00Z'), resolvedAt: null,
      updates: [
        { id: 1, status: 'investigating', body: 'First <img src=x onerror=alert(1)>', components: { api: 'major_outage' }, publishedAt: new Date('2026-12-03T10:00:00Z') },
        { id: 2, status: 'identified', body: 'Found it ]]> </content>', components: { api: 'partial_outage' }, publishedAt: new Date('2026-12-03T11:00:00Z') },
      ],
    },
    {
      id: 3, title: 'Old one', status: 'resolved', createdAt: new Date('2026-11-01T10:00:00Z'), updatedAt: new Date('2026-11-01T12:30:00Z'), resolvedAt: new Date('2026-11-01T12:30:00Z'),
      updates: [{ id: 0, status: 'resolved', body: 'Fixed.', components: {}, publishedAt: new Date('2026-11-01T12:30:00Z') }],
    },
  ],
};

/** Python's XML parser (strict, no recovery): the feed's root, entry count and required child elements. */
function parseXml(xml: string): { root: string; entries: number; required: boolean; titles: string[] } {
  const script = `
import sys, json, xml.etree.ElementTree as ET
A = '{http://www.w3.org/2005/Atom}'
root = ET.fromstring(sys.stdin.read())
entries = root.findall(A + 'entry')
need = lambda el, names: all(el.find(A + n) is not None for n in names)
ok = need(root, ['id', 'title', 'updated', 'author']) and all(need(e, ['id', 'title', 'updated', 'link', 'content']) for e in entries)
print(json.dumps({'root': root.tag, 'entries': len(entries), 'required': ok, 'titles': [e.find(A + 'title').text for e in entries]}))`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: xml }).toString()) as { root: string; entries: number; required: boolean; titles: string[] };
}

describe('rendering', () => {
  it('escapes every string in the HTML: a hostile title stays text, and there is no script anywhere', () => {
    const html = statusHtml(page, BASE);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>bold');
    expect(html).toContain(escapeHtml(HOSTILE));
    expect(html).toContain('Acme &lt;status&gt;');
    expect(html).toContain('<meta name="viewport"');
    // Links carry the public URL's sub-path, once.
    expect(html).toContain('href="https://example.test/ops/status/incidents/7"');
    expect(html).not.toContain('ops//status');
    expect(html).toMatch(/Current incidents[\s\S]*Past incidents \(90 days\)[\s\S]*Old one[\s\S]*lasted 2 h 30 min/);
  });

  it('gives the documented JSON shape', () => {
    const doc = JSON.parse(JSON.stringify(statusJson(page, BASE)));
    expect(Object.keys(doc)).toEqual(['page', 'status', 'components', 'incidents']);
    expect(doc.page).toEqual({ title: 'Acme <status>', url: 'https://example.test/ops/status', updatedAt: '2026-12-03T12:00:00.000Z' });
    expect(doc.status).toBe('partial_outage');
    expect(doc.components[0]).toEqual({ id: 'api', name: 'API <v2>', group: 'Core & more', description: '<b>bold</b>', status: 'partial_outage', updatedAt: '2026-12-03T12:00:00.000Z' });
    expect(doc.incidents[0]).toEqual({
      id: 7, title: HOSTILE, status: 'identified', url: 'https://example.test/ops/status/incidents/7', createdAt: '2026-12-03T10:00:00.000Z', updatedAt: '2026-12-03T11:00:00.000Z',
      resolvedAt: null, durationMinutes: 120,
      updates: [
        { id: 2, status: 'identified', body: 'Found it ]]> </content>', components: { api: 'partial_outage' }, publishedAt: '2026-12-03T11:00:00.000Z' },
        { id: 1, status: 'investigating', body: 'First <img src=x onerror=alert(1)>', components: { api: 'major_outage' }, publishedAt: '2026-12-03T10:00:00.000Z' },
      ],
    });
    expect(doc.incidents[1].durationMinutes).toBe(150);
  });

  it('gives Atom that parses as XML, with the required feed and entry elements', () => {
    const xml = statusAtom(page, BASE);
    const parsed = parseXml(xml);
    expect(parsed).toEqual({ root: '{http://www.w3.org/2005/Atom}feed', entries: 2, required: true, titles: [`Identified: ${HOSTILE}`, 'Resolved: Old one'] });
    expect(xml).toContain('<link rel="self" type="application/atom+xml" href="https://example.test/ops/status/feed.atom"/>');
  });
});

describe('the public routes', () => {
  let t: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ config: { publicUrl: 'https://status.example.test/firebreak', statusPage: { enabled: true, components: [{ id: 'api', name: 'API' }] }, approvals: { actions: { [PUBLISH_KIND]: { preApproved: true } } } } });
    off = await startTestApp();
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await off?.stop();
  });

  it('are off unless enabled (the safe default): 404, and nothing is read', async () => {
    expect(configSchema.parse({}).statusPage.enabled).toBe(false);
    for (const p of ['/status', '/status.json', '/status/feed.atom', '/status/incidents/1']) expect((await fetch(`${off.url}${p}`)).status, p).toBe(404);
  });

  it('send strict headers, links from publicUrl, and stable incident links (pre-approved publishes run at once, still through the gate)', async () => {
    const inc = await declareIncident(t, 'P2', 'internal title');
    const out = await t.app.services.statusPage.requestPublish({ requestKey: 'r1', actor: 'U0ALICE', incidentId: inc.id, title: HOSTILE, status: 'investigating', body: 'Slow pages.', components: { api: 'degraded' } });
    expect(out).toMatchObject({ status: 'gated', gate: { status: 'started', reason: 'pre-approved' } });
    await t.settle();
    for (const [path, type] of [['/status', 'text/html'], ['/status.json', 'application/json'], ['/status/feed.atom', 'application/atom+xml'], ['/status/incidents/1', 'text/html'], ['/status/incidents/1.json', 'application/json']] as const) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
      expect(res.headers.get('cache-control')).toBe('public, max-age=30, must-revalidate');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+';/);
      expect(csp).not.toContain('script-src');
      const body = await res.text();
      expect(body).not.toContain('<script');
      expect(body).not.toContain('internal title');
    }
    const doc = await (await fetch(`${t.url}/status.json`)).json() as { incidents: { url: string }[] };
    expect(doc.incidents[0]!.url).toBe('https://status.example.test/firebreak/status/incidents/1');
    expect((await fetch(`${t.url}/status/incidents/999`)).status).toBe(404);
    expect((await fetch(`${t.url}/status/incidents/abc`)).status).toBe(404);
    expect((await fetch(`${t.url}/status`, { method: 'POST' })).status).toBe(405);
  });
});

describe('configuration', () => {
  it('a partial Atlassian configuration is an error naming what is missing', () => {
    const bad = (statusPage: Record<string, unknown>) => configSchema.safeParse({ statusPage }).error?.issues.map((i) => i.message).join('\n') ?? '';
    expect(bad({ atlassian: { pageId: 'kctbh9vrtdwd' } })).toMatch(/STATUSPAGE_API_KEY/);
    expect(bad({ atlassian: { apiKey: 'secret-key-123' } })).toMatch(/pageId is not/);
    expect(bad({ components: [{ id: 'api', name: 'API' }], atlassian: { pageId: 'kctbh9vrtdwd', apiKey: 'secret-key-123', components: { web: 'abcd1234' } } })).toMatch(/"web" is not a component/);
    expect(bad({ components: [{ id: 'api', name: 'A' }, { id: 'api', name: 'B' }] })).toMatch(/listed twice/);
  });

  it('reads STATUSPAGE_API_KEY (or _FILE) from the environment only; alone it is a ConfigError naming the page id', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fb-sp-'));
    const keyFile = path.join(dir, 'key');
    writeFileSync(keyFile, 'file-key-0123456789\n');
    const yaml = path.join(dir, 'c.yml');
    writeFileSync(yaml, 'statusPage:\n  enabled: true\n  atlassian:\n    pageId: kctbh9vrtdwd\n');
    expect(loadConfig({ FIREBREAK_CONFIG: yaml, STATUSPAGE_API_KEY_FILE: keyFile }).statusPage.atlassian).toMatchObject({ pageId: 'kctbh9vrtdwd', apiKey: 'file-key-0123456789' });
    expect(() => loadConfig({ STATUSPAGE_API_KEY: 'env-key-0123456789' })).toThrow(ConfigError);
    expect(() => loadConfig({ STATUSPAGE_API_KEY: 'env-key-0123456789' })).toThrow(/statusPage\.atlassian\.pageId/);
    writeFileSync(yaml, 'statusPage:\n  atlassian:\n    pageId: kctbh9vrtdwd\n    apiKey: in-the-file-0123\n');
    expect(() => loadConfig({ FIREBREAK_CONFIG: yaml })).toThrow(/is a secret and is not read from the config file; set STATUSPAGE_API_KEY/);
  });
});
