/** The whole app on the local console surface, for console test files. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { ConsoleSurface } from '../../src/console/surface.js';
import type { Actor } from '../../src/chat/interactions.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

export interface ConsoleApp {
  db: TestDatabase;
  app: FirebreakApp;
  surface: ConsoleSurface;
}

/** Starts the app on the console surface with its own database before the file's tests, and drops it after. */
export function useConsoleApp(dbName: string): ConsoleApp {
  const c = {} as ConsoleApp;
  beforeAll(async () => {
    c.db = await createTestDatabase(dbName);
    // Its own data directory, not the checkout's .data (a developer's console state).
    const config = configSchema.parse({ databaseUrl: c.db.url, port: 0, logLevel: 'silent', dataDir: mkdtempSync(path.join(tmpdir(), 'fb-console-data-')) });
    c.surface = new ConsoleSurface(c.db.pool);
    c.app = await createApp({ config, pool: c.db.pool, log: createLogger({ level: 'silent' }), chat: c.surface });
  }, 60_000);
  afterAll(async () => {
    await c.app?.stop(1000);
    await c.db?.drop();
  });
  return c;
}

/** Runs a slash command as the console's HTTP edge does (same invocation, same reply). */
export async function runCommand(c: ConsoleApp, text: string, channelId: string, actor: Actor, requestKey = `test:${Math.random()}`): Promise<void> {
  const [command, ...rest] = text.split(' ');
  const triggerId = c.surface.issueTrigger(actor.userId);
  await c.app.interactions.command(
    { command: command!, text: rest.join(' '), actor, channelId, triggerId, requestKey },
    { ephemeral: async (m) => c.surface.postEphemeral(channelId, actor.userId, typeof m === 'string' ? { text: m } : m), openModal: (v) => c.surface.openModal(triggerId, v) },
  );
}
