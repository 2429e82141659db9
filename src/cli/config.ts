import { checkConfig } from '../config/load.js';
import { chatMode, configWarnings } from '../config/schema.js';
import { validateCommsTemplates } from '../templates/comms.js';
import { backupKeyProblem } from '../backups/config.js';
import { pitrConfigProblem } from '../pitr/config.js';
import type { CliGroup } from './types.js';

export const configCli: CliGroup = {
  name: 'config',
  summary: 'validate the configuration without starting',
  verbs: { check: 'load env and FIREBREAK_CONFIG, validate every key, exit 1 naming each bad one' },
  async run(verb, _args, io) {
    if (verb !== 'check') {
      io.err(`usage: firebreak config check`);
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
    io.out(`config ok (chat: ${chatMode(r.config)}, database: ${r.config.databaseUrl ? 'DATABASE_URL' : `embedded under ${r.config.dataDir}`})`);
    return 0;
  },
};
