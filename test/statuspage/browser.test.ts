/**
 * The public status page in a real browser (Debian's chromium via playwright-core, as the
 * console's browser test): after an approved publish it shows the approved text and the
 * component's state, runs no script (the CSP forbids it and JavaScript is off), reads on a
 * phone-sized screen, and its Atom feed parses with the browser's XML parser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { declareIncident, startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp({
    config: { publicUrl: 'https://status.example.test/firebreak', statusPage: { enabled: true, title: 'Acme status', components: [{ id: 'api', name: 'Public API', group: 'Core' }, { id: 'web', name: 'Web app', group: 'Core' }] } },
  });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

describe('the public status page in a browser', () => {
  it('shows only the approved text and the component state, without JavaScript, on a phone', async () => {
    const inc = await declareIncident(t, 'P1', 'secret-db-host melted');
    const out = await t.app.services.statusPage.requestPublish({
      requestKey: 'b1', actor: 'U0ALICE', incidentId: inc.id, title: 'Login problems <b>', status: 'identified', body: 'Some users cannot sign in. A fix is rolling out.', components: { api: 'partial_outage' },
    });
    expect(out).toMatchObject({ status: 'gated', gate: { status: 'pending' } });
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    // Before approval: nothing of it is public.
    await page.goto(`${t.url}/status`);
    expect(await page.getByRole('status').textContent()).toBe('All systems operational');
    expect(await page.content()).not.toContain('Login problems');

    const change = (await t.db.pool.query(`SELECT id, params_hash FROM change_requests WHERE kind = 'statuspage.publish'`)).rows[0];
    await t.click('change_approve', `${change.id}:${change.params_hash}`, { user: 'U0BOB', channel: t.slack.channel('approvals')!.id });
    await t.settle();
    await t.settle();

    // The first answer may be reused for max-age (30 s): that is the caching asked for, so ask for a fresh URL.
    const res = await page.goto(`${t.url}/status?after-approval`);
    expect(res!.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await page.getByRole('status').textContent()).toBe('Partial outage');
    expect(await page.getByRole('heading', { name: 'Login problems <b>' }).count()).toBe(1);
    await expect.poll(() => page.locator('p.u').first().textContent()).toBe('Some users cannot sign in. A fix is rolling out.');
    expect(await page.locator('[data-component="api"] .s').textContent()).toBe('Partial outage');
    expect(await page.locator('[data-component="web"] .s').textContent()).toBe('Operational');
    expect(await page.content()).not.toContain('secret-db-host');
    // Mobile friendly: nothing wider than the screen.
    expect(await page.locator('html').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(375);

    // The stable link of the incident opens its own page.
    // Its link is built from publicUrl (here a sub-path behind a proxy); the same path answers here.
    expect(await page.getByRole('link', { name: 'Login problems <b>' }).getAttribute('href')).toBe('https://status.example.test/firebreak/status/incidents/1');
    await page.goto(`${t.url}/status/incidents/1`);
    expect(await page.locator('h1').textContent()).toBe('Login problems <b>');
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it('serves an Atom feed the browser parses as XML', async () => {
    const page = await browser.newPage();
    await page.goto('about:blank');
    const xml = await (await fetch(`${t.url}/status/feed.atom`)).text();
    // Evaluated in the page (the browser's own XML parser), so it is passed as source text.
    const parsed = await page.evaluate(`(() => {
      const doc = new DOMParser().parseFromString(${JSON.stringify(xml)}, 'application/xml');
      return { error: doc.getElementsByTagName('parsererror').length, root: doc.documentElement.localName, ns: doc.documentElement.namespaceURI, title: doc.querySelector('entry > title')?.textContent };
    })()`);
    expect(parsed).toEqual({ error: 0, root: 'feed', ns: 'http://www.w3.org/2005/Atom', title: 'Identified: Login problems <b>' });
    await page.close();
  });
});
