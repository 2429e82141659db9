import { readFileSync } from 'node:fs';
import { checkConfig, ConfigError, readConfigText } from '../config/load.js';
import { systemClock } from '../clock.js';
import { JobQueue } from '../jobs/queue.js';
import { ConfigVersions, PROPOSE_QUEUE } from '../configversions/service.js';
import { logNotices } from '../configversions/messages.js';
import type { ProposeJob } from '../handlers/config.js';
import { versionId } from '../commands/config.js';
import { parseArgs } from '../commands/table.js';
import { diffText, historyText, showText } from '../templates/configversions.js';
import { cliDatabase, withCliRuntime } from './runtime.js';
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

const USAGE = {
  check: 'firebreak config check [file] [--offline]',
  diff: 'firebreak config diff [file]',
  propose: 'firebreak config propose <file> [--commit SHA]',
  apply: 'firebreak config apply [file] [--commit SHA]',
  history: 'firebreak config history [--limit N]',
  show: 'firebreak config show [version]',
} as const;

/** The environment with FIREBREAK_CONFIG pointing at `file` (when given): what the check validates. */
const envWithFile = (file: string | undefined): NodeJS.ProcessEnv => (file ? { ...process.env, FIREBREAK_CONFIG: file } : process.env);

async function check(args: string[], io: CliIo): Promise<number> {
  const files = args.filter((a) => a !== '--offline');
  if (files.length > 1 || files.some((f) => f.startsWith('--'))) {
    io.err(`usage: ${USAGE.check}`);
    return 2;
  }
  const r = checkConfig(envWithFile(files[0]));
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
}

function readText(file: string | undefined, io: CliIo): string | undefined {
  try {
    return file ? readFileSync(file, 'utf8') : readConfigText(process.env);
  } catch (e) {
    io.err(`cannot read ${file ?? process.env.FIREBREAK_CONFIG}: ${(e as Error).message}`);
    return undefined;
  }
}

const cliUser = (): string => `cli:${process.env.USER ?? process.env.LOGNAME ?? 'unknown'}`;

const refusalText = (o: { status: string; problems?: string[]; message?: string }): string =>
  o.status === 'invalid' ? `Invalid configuration, nothing changed:\n${(o.problems ?? []).map((p) => `  - ${p}`).join('\n')}` : `Refused, nothing changed: ${o.message ?? o.status}`;

/** The versioned verbs: they need Firebreak's database (src/cli/runtime.ts), like every stateful verb. */
async function versioned(verb: 'diff' | 'propose' | 'apply' | 'history' | 'show', argv: string[], io: CliIo): Promise<number> {
  let db: ReturnType<typeof cliDatabase>;
  try {
    db = cliDatabase(argv, `config ${verb}`);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(e.message);
      return 1;
    }
    throw e;
  }
  if ('problem' in db) {
    io.err(db.problem);
    return 1;
  }
  const args = parseArgs(db.args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' '));
  const [first, ...more] = args.words;
  if (more.length || (verb === 'propose' && !first)) {
    io.err(`usage: ${USAGE[verb]}`);
    return 2;
  }
  const commit = args.flags['commit'] ?? process.env.FIREBREAK_CONFIG_COMMIT;
  return withCliRuntime(db.url, async ({ pool, log }) => {
    const versions = new ConfigVersions({ pool, clock: systemClock, log, notices: logNotices(log) });
    switch (verb) {
      case 'history': {
        const limit = args.flags['limit'] ? Number(args.flags['limit']) : 20;
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
          io.err('--limit is a whole number from 1 to 500');
          return 2;
        }
        io.out(historyText(await versions.history(limit)));
        return 0;
      }
      case 'show': {
        const id = first === undefined ? undefined : versionId(first);
        if (first !== undefined && id === undefined) {
          io.err(`${first} is not a version number; \`firebreak config history\` lists them`);
          return 2;
        }
        const v = await versions.show(id);
        if (!v) {
          io.err(id === undefined ? 'No configuration version is active yet.' : `There is no configuration version #${id}.`);
          return 1;
        }
        io.out(showText(v));
        return 0;
      }
      case 'diff': {
        const text = readText(first, io);
        if (text === undefined) return 1;
        const d = await versions.diff(text);
        if (!d.ok) {
          io.err(refusalText({ status: 'invalid', problems: d.problems }));
          return 1;
        }
        io.out(`against ${d.against ? `the running version #${d.against.id}` : 'no stored version (defaults)'}:`);
        io.out(diffText(d.lines));
        return 0;
      }
      case 'propose': {
        const text = readText(first, io);
        if (text === undefined) return 1;
        const author = cliUser();
        const p = await versions.prepare(text, { author, source: 'cli', ...(commit ? { commit } : {}) });
        if (p.status === 'invalid' || p.status === 'env-only') {
          io.err(refusalText(p));
          return 1;
        }
        if (p.status === 'unchanged') {
          io.out(`${first} is the running version #${p.version.id}: nothing to propose.`);
          return 0;
        }
        // The CLI has no chat: a running replica opens the change request (and posts it for approval).
        const requestKey = `cli-propose:${p.version.id}:${systemClock.now().getTime()}`;
        const jobs = new JobQueue(pool, systemClock, log, `cli-${process.pid}`);
        await jobs.enqueue(PROPOSE_QUEUE, { versionId: p.version.id, author, requestKey } satisfies ProposeJob as unknown as Record<string, unknown>, { runAt: systemClock.now(), dedupeKey: requestKey, maxAttempts: 5 });
        io.out(`Version #${p.version.id} (${p.version.hash.slice(0, 12)}) recorded; a running Firebreak opens its change request (config.change) for approval.`);
        io.out(diffText(p.diff));
        return 0;
      }
      case 'apply': {
        const text = readText(first, io);
        if (text === undefined) return 1;
        const out = await versions.apply(text, { author: cliUser(), source: 'apply', ...(commit ? { commit } : {}) });
        if (out.status === 'invalid' || out.status === 'env-only' || out.status === 'refused') {
          io.err(refusalText(out));
          return 1;
        }
        io.out(out.status === 'unchanged' ? `Version #${out.version.id} is already running: nothing changed.` : `Version #${out.version.id} is active${out.from ? ` (was #${out.from.id})` : ''}; every replica switches to it.`);
        return 0;
      }
    }
  });
}

export const configCli: CliGroup = {
  name: 'config',
  summary: 'validate, diff, propose and apply configuration versions',
  verbs: {
    check: 'validate env and FIREBREAK_CONFIG (or [file]), exit 1 naming each bad key; in Slack mode also check the token and every channel (--offline skips that)',
    diff: 'the effective configuration of FIREBREAK_CONFIG (or [file]) against the running version: key: old → new, secrets masked',
    propose: 'validate <file>, record it as a version (--commit SHA, or FIREBREAK_CONFIG_COMMIT) and open a change request (config.change) for approval',
    apply: 'validate FIREBREAK_CONFIG (or [file]) and make it the active version now (audited); every replica switches',
    history: 'configuration versions, newest first: status, author, approvers, time, hash',
    show: 'one version (default the running one): the file as proposed and the effective configuration, secrets masked',
  },
  async run(verb, args, io) {
    if (verb === 'check') return check(args, io);
    if (verb === 'diff' || verb === 'propose' || verb === 'apply' || verb === 'history' || verb === 'show') return versioned(verb, args, io);
    io.err(`usage:\n${Object.values(USAGE).map((u) => `  ${u}`).join('\n')}`);
    return 2;
  },
};
