/**
 * The console page in a real browser (Debian's chromium via playwright-core, installed by
 * scripts/test-deps.sh): a person picks a user, declares an incident by typing the slash
 * command, sees the war-room channel appear with its headline, and declares a second one
 * through the modal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type FirebreakApp } from '../../src/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { ConsoleSurface } from '../../src/console/surface.js';
import { consoleRoutes } from '../../src/console/routes.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let app: FirebreakApp;
let browser: Browser;
let page: Page;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase('fb_browser');
  const config = configSchema.parse({ databaseUrl: db.url, port: 0, logLevel: 'silent' });
  const surface = new ConsoleSurface(db.pool);
  app = await createApp({ config, pool: db.pool, log: createLogger({ level: 'silent' }), chat: surface, edgeRoutes: (a) => consoleRoutes(a, surface) });
  base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop(1000);
  await db?.drop();
});

describe('the console page', () => {
  it('declares an incident from the command box and shows the new channel with its headline', async () => {
    await page.goto(`${base}/console`);
    await page.getByTestId('user-picker').selectOption('U0BOB');
    await expect.poll(() => page.getByTestId('channels').textContent()).toContain('# incidents');
    await page.getByTestId('command').fill('/incident declare P1 Checkout is failing');
    await page.getByTestId('command').press('Enter');

    const warRoom = page.getByTestId('channels').getByRole('button', { name: /# inc-\d{8}-checkout-is-failing/ });
    await warRoom.waitFor({ timeout: 15_000 });
    // The announcement lands in #incidents, where the command was typed.
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 10_000 }).toContain('Checkout is failing');

    await warRoom.click();
    await expect.poll(() => page.getByTestId('channel-name').textContent()).toMatch(/#inc-\d{8}-checkout-is-failing/);
    // The channel can show up a moment before its headline is posted: wait for the headline.
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 10_000 }).toMatch(/P1[\s\S]*Checkout is failing|Checkout is failing[\s\S]*P1/);
    await expect.poll(() => page.getByRole('button', { name: /take command/i }).count(), { timeout: 10_000 }).toBeGreaterThan(0);

    const rows = await db.pool.query('SELECT title, severity, declared_by FROM incidents');
    expect(rows.rows).toEqual([{ title: 'Checkout is failing', severity: 'P1', declared_by: 'U0BOB' }]);
  }, 60_000);

  it('opens the declare modal when the title is missing, shows field errors, then declares', async () => {
    await page.getByTestId('channels').getByRole('button', { name: '# incidents' }).click();
    await page.getByTestId('command').fill('/incident declare');
    await page.getByTestId('command').press('Enter');
    const modal = page.getByTestId('modal');
    await modal.waitFor({ state: 'visible', timeout: 10_000 });
    await page.getByTestId('modal-submit').click();
    await expect.poll(() => modal.textContent()).toMatch(/required/i);

    await page.getByTestId('field-title').fill('Search results are stale');
    await page.getByTestId('field-severity').selectOption('P2');
    await page.getByTestId('modal-submit').click();
    await modal.waitFor({ state: 'hidden', timeout: 10_000 });
    await page.getByTestId('channels').getByRole('button', { name: /# inc-\d{8}-search-results-are-stale/ }).waitFor({ timeout: 15_000 });
    const rows = await db.pool.query("SELECT severity FROM incidents WHERE title = 'Search results are stale'");
    expect(rows.rows).toEqual([{ severity: 'P2' }]);
  }, 60_000);
});
