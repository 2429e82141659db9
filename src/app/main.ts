/**
 * `npm start`: loads the configuration, finds or starts PostgreSQL, picks the chat surface
 * (Slack when a complete set of Slack secrets is given, the local console when none is; a
 * partial set stops the start), and serves until SIGTERM/SIGINT.
 */
import { loadConfig, loadConfigText, readConfigText, ConfigError } from '../config/load.js';
import { systemClock } from '../clock.js';
import { chatMode, configWarnings, consoleServed, listenHost, type Config } from '../config/schema.js';
import { loopbackOnly } from '../http/loopback.js';
import { createLogger, redactUrl, type Logger } from '../log.js';
import { withTrialBackupKey, TRIAL_KEY_NOTICE, type TrialKey } from '../backups/trial-key.js';
import { createPool } from '../db/pool.js';
import { startEmbeddedPostgres, EmbeddedDatabaseError, type EmbeddedDatabase } from '../db/embedded.js';
import { createApp, type FirebreakApp } from './app.js';
import { createSlackEdge, type SlackEdge } from '../slack/edge.js';
import { ConsoleSurface } from '../console/surface.js';
import { consoleRoutes } from '../console/routes.js';
import { ConsoleAccess, printLoginLinks } from '../console/access.js';
import { installGracefulShutdown } from './shutdown.js';
import type { ChatSurface } from '../chat/surface.js';
import type { ReplyFactory } from '../chat/interactions.js';
import type { Route } from '../http/router.js';
import { validateCommsTemplates } from '../templates/comms.js';
import { MigrationsPendingError } from '../db/migrate.js';
import { ensureChannels } from '../chat/channels.js';
import { configFollowing } from './configversions.js';
import { reloadFromFile } from '../configversions/sighup.js';

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

/** Said once, on the start that generated the key: the people in #ops must know it is a trial. */
async function tellOpsAboutTrialKey(chat: ChatSurface, config: Config, key: TrialKey, log: Logger): Promise<void> {
  try {
    const ops = await chat.findChannel(config.ops.channel);
    if (!ops) throw new Error(`ops channel ${config.ops.channel} not found`);
    await chat.post(ops.id, {
      text: `:key: Backups work out of the box with a generated ${TRIAL_KEY_NOTICE}. The key is ${key.file}; set FIREBREAK_BACKUP_RECIPIENT and FIREBREAK_BACKUP_IDENTITY_FILE to your own age key.`,
    });
  } catch (err) {
    log.warn({ err }, 'could not tell the ops channel about the trial backup key');
  }
}

async function main(): Promise<void> {
  let config = readConfig();
  checkTemplates(config);
  const log = createLogger({ level: config.logLevel });
  const mode = chatMode(config);
  let trialKey: TrialKey | undefined;
  if (mode === 'console') ({ config, trial: trialKey } = withTrialBackupKey(config));
  if (trialKey) {
    const where = `backups are encrypted to ${trialKey.file} and stored under ${config.backups.storage.localDir ?? `${config.dataDir}/backups`}`;
    if (trialKey.created) log.warn({ file: trialKey.file, recipient: trialKey.recipient }, `no backup key configured: generated one. ${TRIAL_KEY_NOTICE} (${where})`);
    else log.info({ file: trialKey.file }, `backups use the generated trial key (${where})`);
  }

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    try {
      embedded = await startEmbeddedPostgres(config.dataDir, log);
    } catch (err) {
      if (!(err instanceof EmbeddedDatabaseError)) throw err;
      process.stderr.write(`Firebreak did not start: ${err.message}\n`);
      process.exit(1);
    }
    databaseUrl = embedded.url;
  } else {
    log.info({ database: redactUrl(databaseUrl) }, 'using PostgreSQL from DATABASE_URL');
  }
  const pool = createPool(databaseUrl);
  const publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;

  for (const warning of configWarnings(config)) log.warn({ config: true }, warning);

  let chat: ChatSurface;
  let replies: ReplyFactory | undefined;
  let edgeRoutes: (app: FirebreakApp) => Route[];
  let slack: SlackEdge | undefined;
  const consoleSurface = consoleServed(config) ? new ConsoleSurface(pool, { ...config.console, baseUrl: config.console.publicUrl ?? publicUrl }) : undefined;
  const consoleAccess = consoleSurface ? new ConsoleAccess(config.console) : undefined;
  const consoleUsers = consoleSurface ? consoleSurface.users.map((u) => u.id) : [];
  if (mode === 'console') {
    chat = consoleSurface!;
    edgeRoutes = (app) => consoleRoutes(app, consoleSurface!, { access: consoleAccess });
  } else {
    slack = createSlackEdge(config, log);
    chat = slack.chat;
    replies = slack.replies;
    // Next to Slack the server faces the internet, so the console answers loopback clients only.
    edgeRoutes = (app) => [...slack!.attach(app), ...(consoleSurface ? consoleRoutes(app, consoleSurface, { access: consoleAccess }).map((r) => loopbackOnly(r, 'The console next to Slack is served to this machine only.')) : [])];
  }

  // A stored version runs as this start did with the file: its text, this environment, the
  // embedded database and the console's trial key; so the same text is the same Config.
  const configFor = (text: string, label: string): Config => {
    const c = { ...loadConfigText(text, process.env, { label }), databaseUrl };
    return mode === 'console' ? withTrialBackupKey(c).config : c;
  };
  const following = configFollowing({ pool, clock: systemClock, log, chat, config, fileText: () => readConfigText(process.env), configFor });
  const app = await createApp({ config: { ...config, databaseUrl }, pool, ownsPool: true, log, chat, replies, edgeRoutes, runJobs: true, platform: [following.component] });
  // SIGHUP: a valid FIREBREAK_CONFIG becomes the active configuration version (audited) and every
  // replica switches to it; an invalid one is logged with its problems and nothing changes.
  process.on('SIGHUP', () => {
    void reloadFromFile(following.versions, process.env, log).catch((err: unknown) => log.error({ err }, 'SIGHUP: could not apply the configuration file'));
  });
  const host = listenHost(config);
  const port = await app.listen(config.port, host);
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

  // Every channel Firebreak posts to exists now, or the log says once how to fix it.
  await ensureChannels(config, chat, log).catch((err: unknown) => log.warn({ err }, 'could not check the configured channels'));
  if (trialKey?.created) await tellOpsAboutTrialKey(chat, config, trialKey, log);

  const base = config.publicUrl ?? `http://localhost:${port}`;
  const address = host ?? '*';
  if (mode === 'console') {
    if (consoleAccess?.exposed) {
      log.info({ port, host: address, mode, console: config.console.publicUrl }, 'Firebreak is running with the console exposed: each person signs in with their login link (printed on stderr)');
      printLoginLinks(consoleAccess, consoleUsers, process.stderr);
    } else {
      log.info({ port, host: address, mode }, `Firebreak is running with the local console: open ${base}/console`);
    }
  } else {
    log.info({ port, host: address, mode }, mode === 'slack-socket' ? 'Firebreak joined Slack over Socket Mode' : `Firebreak is serving Slack at ${base}/slack/events`);
    if (consoleSurface) log.info({ port }, `the console is also served to this machine: http://localhost:${port}/console`);
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
