/**
 * `npm start`: loads the configuration, finds or starts PostgreSQL, picks the chat surface
 * (Slack when tokens are set, otherwise the local console), and serves until SIGTERM/SIGINT.
 */
import { loadConfig, ConfigError } from './config/load.js';
import { chatMode, type Config } from './config/schema.js';
import { createLogger, redactUrl } from './log.js';
import { createPool } from './db/pool.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js';
import { createApp, type FirebreakApp } from './app.js';
import { createSlackEdge, type SlackEdge } from './slack/edge.js';
import { ConsoleSurface } from './console/surface.js';
import { consoleRoutes } from './console/routes.js';
import { installGracefulShutdown } from './ops/shutdown.js';
import type { ChatSurface } from './chat/surface.js';
import type { ReplyFactory } from './chat/interactions.js';
import type { Route } from './http/router.js';
import { validateCommsTemplates } from './templates/comms.js';
import { MigrationsPendingError } from './db/migrate.js';

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n\nFirebreak did not start. Fix the values above (\`npm run config:check\` checks without starting).\n`);
      process.exit(1);
    }
    throw e;
  }
}

/** Broken team templates stop the start, like bad config: better now than mid-incident. */
function checkTemplates(config: Config): void {
  const problems = validateCommsTemplates(config.incidents.templatesDir);
  if (problems.length === 0) return;
  process.stderr.write(`Invalid comms templates in ${config.incidents.templatesDir}:\n${problems.map((p) => `  - ${p}`).join('\n')}\n\nFirebreak did not start.\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const config = readConfig();
  checkTemplates(config);
  const log = createLogger({ level: config.logLevel });
  const mode = chatMode(config);

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, log);
    databaseUrl = embedded.url;
  } else {
    log.info({ database: redactUrl(databaseUrl) }, 'using PostgreSQL from DATABASE_URL');
  }
  const pool = createPool(databaseUrl);
  const publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;

  let chat: ChatSurface;
  let replies: ReplyFactory | undefined;
  let edgeRoutes: (app: FirebreakApp) => Route[];
  let slack: SlackEdge | undefined;
  if (mode === 'console') {
    const surface = new ConsoleSurface(pool, { ...config.console, baseUrl: publicUrl });
    chat = surface;
    edgeRoutes = (app) => consoleRoutes(app, surface);
  } else {
    slack = createSlackEdge(config, log);
    chat = slack.chat;
    replies = slack.replies;
    edgeRoutes = (app) => slack!.attach(app);
  }

  const app = await createApp({ config: { ...config, databaseUrl }, pool, ownsPool: true, log, chat, replies, edgeRoutes, runJobs: true });
  const port = await app.listen(config.port);
  await slack?.start();

  installGracefulShutdown(app, {
    budgetMs: config.ops.shutdownBudgetSeconds * 1000,
    drainDelayMs: config.ops.drainDelaySeconds * 1000,
    stopIntake: slack ? () => slack!.stop() : undefined,
    log,
    exit: (code) => {
      // The embedded server is ours: stop it after the pool has closed, then leave.
      void (embedded ? embedded.stop().catch(() => {}) : Promise.resolve()).then(() => process.exit(code));
    },
  });

  const base = config.publicUrl ?? `http://localhost:${port}`;
  if (mode === 'console') {
    log.info({ port, mode }, `Firebreak is running with the local console: open ${base}/console`);
  } else {
    log.info({ port, mode }, mode === 'slack-socket' ? 'Firebreak joined Slack over Socket Mode' : `Firebreak is serving Slack at ${base}/slack/events`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof MigrationsPendingError) {
    process.stderr.write(`${err.message}\n\nFirebreak did not start.\n`);
    process.exit(1);
  }
  process.stderr.write(`Firebreak failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
