/**
 * The console page in a real browser (Debian's chromium via playwright-core, installed by
 * scripts/test-deps.sh): a person picks a user, declares an incident by typing the slash
 * command, sees the war-room channel appear with its headline, and declares a second one
 * through the modal. Then the backup half: a backup and a DR drill, each approved by another
 * user, and a runbook; after all of it no channel shows raw Slack markup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { ConsoleSurface } from '../../src/console/surface.js';
import { consoleRoutes } from '../../src/console/routes.js';
import { ConsoleAccess } from '../../src/console/access.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { backupTestConfig } from '../support/backups.js';

let db: TestDatabase;
let app: FirebreakApp;
let browser: Browser;
let page: Page;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase('fb_browser');
  // A key and local storage so backups and drills run (a fresh console gets a trial key of its own).
  const { config: withBackups } = await backupTestConfig({ databases: {}, storage: 'local', config: { databaseUrl: db.url, port: 0 } });
  const config = configSchema.parse({
    ...withBackups,
    dr: { minFreeMiB: 1, schedule: { enabled: false } },
  });
  const surface = new ConsoleSurface(db.pool);
  app = await createApp({ config, pool: db.pool, log: createLogger({ level: 'silent' }), chat: surface, edgeRoutes: (a) => consoleRoutes(a, surface), runJobs: true });
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
  // A war room appears when its setup job has run: seconds alone, up to half a minute beside
  // other suites (15 s was not enough at a load average of 18), so those waits get 45 s.
  it('declares an incident from the command box and shows the new channel with its headline', async () => {
    await page.goto(`${base}/console`);
    await page.getByTestId('user-picker').selectOption('U0BOB');
    await expect.poll(() => page.getByTestId('channels').textContent()).toContain('# incidents');
    await page.getByTestId('command').fill('/incident declare P1 Checkout is failing');
    await page.getByTestId('command').press('Enter');

    const warRoom = page.getByTestId('channels').getByRole('button', { name: /# inc-\d{8}-checkout-is-failing/ });
    await warRoom.waitFor({ timeout: 45_000 });
    // The announcement lands in #incidents, where the command was typed.
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 10_000 }).toContain('Checkout is failing');

    await warRoom.click();
    await expect.poll(() => page.getByTestId('channel-name').textContent()).toMatch(/#inc-\d{8}-checkout-is-failing/);
    // The channel can show up a moment before its headline is posted: wait for the headline.
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 10_000 }).toMatch(/P1[\s\S]*Checkout is failing|Checkout is failing[\s\S]*P1/);
    await expect.poll(() => page.getByRole('button', { name: /take command/i }).count(), { timeout: 10_000 }).toBeGreaterThan(0);

    const rows = await db.pool.query('SELECT title, severity, declared_by FROM incidents');
    expect(rows.rows).toEqual([{ title: 'Checkout is failing', severity: 'P1', declared_by: 'U0BOB' }]);
  }, 90_000);

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
    await page.getByTestId('channels').getByRole('button', { name: /# inc-\d{8}-search-results-are-stale/ }).waitFor({ timeout: 45_000 });
    const rows = await db.pool.query("SELECT severity FROM incidents WHERE title = 'Search results are stale'");
    expect(rows.rows).toEqual([{ severity: 'P2' }]);
  }, 90_000);

  const openChannel = async (name: string) => {
    await page.getByTestId('channels').getByRole('button', { name: new RegExp(`^# ${name}( ?\\d+)?$`) }).click();
    await expect.poll(() => page.getByTestId('channel-name').textContent()).toBe(`#${name}`);
  };
  const send = async (text: string) => {
    await page.getByTestId('command').fill(text);
    await page.getByTestId('command').press('Enter');
  };
  const pickUser = (id: string) => page.getByTestId('user-picker').selectOption(id);
  /** Presses the newest Approve button in #approvals whose request mentions `what`. */
  const approveNewest = async (what: RegExp) => {
    await openChannel('approvals');
    const request = page.getByTestId('message').filter({ hasText: what }).filter({ has: page.getByRole('button', { name: 'Approve' }) }).last();
    await request.getByRole('button', { name: 'Approve' }).click();
  };
  const status = async (sql: string) => (await db.pool.query(sql)).rows.map((r) => r.status as string);

  it('adds a follow-up through its modal: a person picker and a date field, stored with owner and due date', async () => {
    await page.getByTestId('channels').getByRole('button', { name: /# inc-\d{8}-checkout-is-failing/ }).click();
    await send('/incident followups');
    const add = page.getByRole('button', { name: 'Add follow-up' }).last();
    await add.waitFor({ timeout: 10_000 });
    await add.click();
    const modal = page.getByTestId('modal');
    await modal.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.getByTestId('field-due').getAttribute('type')).toBe('date');
    await page.getByTestId('field-title').fill('Add a checkout error-rate alert');
    await page.getByTestId('field-owner').selectOption('U0BOB');
    await page.getByTestId('field-due').fill('2030-01-15');
    await page.getByTestId('modal-submit').click();
    // The submission is answered after the follow-up is stored: beside a full suite (load 11)
    // that took more than 10 s once, so this wait has the war-room waits' margin.
    await modal.waitFor({ state: 'hidden', timeout: 45_000 }).catch(async (e: unknown) => {
      throw new Error(`the form stayed open: ${await modal.textContent()} / status: ${await page.locator('#status').textContent().catch(() => '?')}`, { cause: e });
    });
    await expect.poll(async () => (await db.pool.query("SELECT owner_user_id, to_char(due_on, 'YYYY-MM-DD') AS due FROM followups")).rows, { timeout: 10_000 })
      .toEqual([{ owner_user_id: 'U0BOB', due: '2030-01-15' }]);
  }, 90_000);

  it('runs a backup and a drill approved by another user, and a runbook, and shows no raw Slack markup anywhere', async () => {
    await page.goto(`${base}/console`);
    await pickUser('U0ALICE');
    await openChannel('incidents');
    await send('/incident declare P1 Orders database is down');
    await page.getByTestId('channels').getByRole('button', { name: /# inc-\d{8}-orders-database-is-down/ }).waitFor({ timeout: 45_000 });
    await openChannel('ops');
    await send('/backup now');
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 15_000 }).toMatch(/approval/i);

    // Bob has not looked at #approvals yet: switching to him shows it waiting.
    await pickUser('U0BOB');
    const approvalsButton = page.getByTestId('channels').getByRole('button', { name: /^# approvals/ });
    await expect.poll(() => approvalsButton.locator('.unread').count(), { timeout: 10_000 }).toBe(1);
    await approveNewest(/backup/i);
    await expect.poll(() => status('SELECT status FROM backups'), { timeout: 90_000 }).toEqual(['verified']);

    await pickUser('U0ALICE');
    await openChannel('ops');
    await send('/dr dry-run');
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 15_000 }).toMatch(/waiting for approval/i);
    await pickUser('U0BOB');
    await approveNewest(/dry run/i);
    // A failed drill names its error in the assertion (it failed once under load, unexplained).
    await expect.poll(() => status(`SELECT status || coalesce(': ' || error, '') AS status FROM dr_runs`), { timeout: 120_000 }).toEqual(['passed']);

    await pickUser('U0ALICE');
    await openChannel('ops');
    await send('/runbook backup-failed');
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 15_000 }).toMatch(/Backup failed|backup-failed/i);

    // Every channel, as each user (ephemerals differ), read as a person would see it.
    const raw = /<!date\^|&lt;|&gt;|&amp;|<@U|<#C|:[a-z][a-z0-9_+-]*:/;
    for (const user of ['U0ALICE', 'U0BOB']) {
      await pickUser(user);
      await expect.poll(() => page.getByTestId('channels').getByRole('button').count()).toBeGreaterThan(4); // the four seeded channels and the war room
      const names = (await page.getByTestId('channels').getByRole('button').allTextContents()).map((t) => t.replace(/^# /, '').replace(/\d+$/, ''));
      for (const name of names) {
        await openChannel(name);
        const seen = await page.getByTestId('messages').innerText();
        expect(seen, `#${name} as ${user}`).not.toMatch(raw);
      }
    }
    const ops = await (async () => {
      await openChannel('ops');
      return page.getByTestId('messages').innerText();
    })();
    expect(ops).toMatch(/RTO/);
  }, 300_000);

  it('scrolls to the reply of a command sent while scrolled up', async () => {
    await page.goto(`${base}/console`);
    await pickUser('U0CAROL');
    const ops = (await db.pool.query("SELECT id FROM console_channels WHERE name = 'ops'")).rows[0].id as string;
    const surface = new ConsoleSurface(db.pool);
    for (let n = 1; n <= 60; n++) await surface.post(ops, { text: `Earlier message ${n}` });
    await openChannel('ops');
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 15_000 }).toContain('Earlier message 60');
    const box = page.getByTestId('messages');
    await box.evaluate((el) => { el.scrollTop = 0; });
    await send('/incident help');
    const atBottom = () => box.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 40 && /incident declare/.test(el.lastElementChild?.textContent ?? ''));
    await expect.poll(atBottom, { timeout: 15_000 }).toBe(true);
  }, 60_000);
});

describe('the console page, exposed', () => {
  let exposed: FirebreakApp;
  let access: ConsoleAccess;
  let url: string;

  beforeAll(async () => {
    const config = configSchema.parse({ databaseUrl: db.url, port: 0, logLevel: 'silent', console: { publicUrl: 'http://firebreak.example' } });
    const surface = new ConsoleSurface(db.pool);
    access = new ConsoleAccess(config.console);
    exposed = await createApp({ config, pool: db.pool, log: createLogger({ level: 'silent' }), chat: surface, edgeRoutes: (a) => consoleRoutes(a, surface, { access }) });
    url = `http://127.0.0.1:${await exposed.listen(0, '127.0.0.1')}`;
  }, 60_000);
  afterAll(async () => {
    await exposed?.stop(1000);
  });

  it('asks for a login, then acts only as the person signed in', async () => {
    const context = await browser.newContext();
    const p = await context.newPage();
    const first = await p.goto(`${url}/console`);
    expect(first?.status()).toBe(401);
    expect(await p.textContent('body')).toMatch(/login link/i);

    const link = new URL(access.loginLink('U0CAROL'));
    await p.goto(`${url}${link.pathname}${link.search}`);
    // The token leaves the address bar.
    expect(p.url()).toBe(`${url}/console`);
    await expect.poll(() => p.getByTestId('channels').textContent(), { timeout: 10_000 }).toContain('# incidents');
    expect(await p.getByTestId('user-picker').inputValue()).toBe('U0CAROL');
    expect(await p.getByTestId('user-picker').isDisabled()).toBe(true);
    await p.getByTestId('channels').getByRole('button', { name: /^# ops/ }).click();
    await p.getByTestId('command').fill('hello from carol');
    await p.getByTestId('command').press('Enter');
    await expect.poll(async () => (await db.pool.query("SELECT author FROM console_messages WHERE text = 'hello from carol'")).rows, { timeout: 10_000 })
      .toEqual([{ author: 'U0CAROL' }]);
    await context.close();
  }, 60_000);
});
