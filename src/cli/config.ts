import { checkConfig } from '../config/load.js';
import { chatMode, configWarnings } from '../config/schema.js';
import { validateCommsTemplates } from '../templates/comms.js';
import { backupKeyProblem } from '../backups/config.js';
import { pitrConfigProblem } from '../pitr/config.js';
import type { Config } from '../config/schema.js';
import { findMissingChannels } from '../chat/channels.js';
import { createSlackClient } from '../slack/client.js';
import { SlackSurface } from '../slack/surface.js';
import { createLogger } from '../log.js';
import type { CliGroup, CliIo } from './types.js';

/**
 * Asks Slack (read-only: auth.test and conversations.list) whether the token works and every
 * configured channel exists, so a typo is found before the first incident needs the channel.
 * Returns false when Slack refused the token or could not be reached.
 */
async function checkSlackChannels(config: Config, io: CliIo): Promise<boolean> {
  const { botToken, apiUrl, timeoutSeconds } = config.slack;
  const slackClient = (once: boolean) => createSlackClient({ token: botToken!, apiUrl, timeoutSeconds, log: createLogger({ level: 'silent' }), once });
  const chat = new SlackSurface(slackClient(false), slackClient(true));
  try {
    await chat.ping();
    for (const m of await findMissingChannels(config, chat)) io.err(`warning: ${m.fix}`);
    return true;
  } catch (err) {
    io.err(`Slack: could not check the token and channels: ${(err as Error).message} (run with --offline to skip this check)`);
    return false;
  }
}

export const configCli: CliGroup = {
  name: 'config',
  summary: 'validate the configuration without starting',
  verbs: { check: 'load env and FIREBREAK_CONFIG, validate every key, exit 1 naming each bad one; in Slack mode also check the token and every channel (--offline skips that)' },
  async run(verb, args, io) {
    if (verb !== 'check' || args.some((a) => a !== '--offline')) {
      io.err(`usage: firebreak config check [--offline]`);
      return 2;
    }
    const r = checkConfig(process.env);
    if (!r.ok) {
      io.err(r.error.message);
      return 1;
    }
    // Team templates are checked here so a broken one is found before an incident needs it.
    const templateProblems = validateCommsTemplates(r.config.incidents.templatesDir);
    if (templateProblems.length) {
      io.err(`Invalid comms templates in ${r.config.incidents.templatesDir}:\n${templateProblems.map((p) => `  - ${p}`).join('\n')}`);
      return 1;
    }
    for (const warning of configWarnings(r.config)) io.err(`warning: ${warning}`);
    // The console generates a trial key on start (src/backups/trial-key.ts); Slack teams must bring theirs.
    const keyProblem = chatMode(r.config) === 'console' ? undefined : backupKeyProblem(r.config.backups);
    if (keyProblem) {
      io.err(`Invalid configuration:\n  - backups.encryption.recipient: ${keyProblem}`);
      return 1;
    }
    const pitrProblem = pitrConfigProblem(r.config.pitr);
    if (pitrProblem) {
      io.err(`Invalid configuration:\n  - pitr: ${pitrProblem}`);
      return 1;
    }
    if (chatMode(r.config) !== 'console' && !args.includes('--offline') && !(await checkSlackChannels(r.config, io))) return 1;
    io.out(`config ok (chat: ${chatMode(r.config)}, database: ${r.config.databaseUrl ? 'DATABASE_URL' : `embedded under ${r.config.dataDir}`})`);
    return 0;
  },
};
