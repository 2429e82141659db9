import { startsAtOnce } from '../approvals/service.js';
import { cliDatabase, withCliRuntime } from './runtime.js';
import { systemClock } from '../clock.js';
import { parseArgs } from '../commands/table.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Pitr, setupStanza } from '../pitr/flows.js';
import { pitrConfigProblem } from '../pitr/config.js';
import { PHYSICAL_TYPES, PITR_BACKUP_KIND, type PhysicalBackupType } from '../pitr/model.js';
import * as say from '../templates/pitr.js';
import type { ChatMessage } from '../chat/surface.js';
import type { CliGroup, CliIo } from './types.js';

const plain = (m: ChatMessage | string) =>
  (typeof m === 'string' ? m : m.text).replace(/:[a-z_]+: /g, '').replace(/<@([^>]+)>/g, '$1').replace(/[*`]/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

const cliActor = () => `cli:${process.env.USER ?? 'unknown'}`;

function usable(config: Config, io: CliIo): boolean {
  if (!config.pitr.enabled) {
    io.err('point-in-time recovery is off: set pitr.enabled: true and the pitr section (README "Point-in-time recovery")');
    return false;
  }
  const problem = pitrConfigProblem(config.pitr);
  if (problem) io.err(`invalid pitr configuration: ${problem}`);
  return !problem;
}

/**
 * `firebreak backup now --physical [full|diff|incr]`: the CLI cannot collect approvals, so it
 * runs only where the change policy pre-approves physical backups.
 */
export async function physicalBackupCli(argv: string[], io: CliIo): Promise<number> {
  const db = cliDatabase(argv, 'backup now --physical');
  if ('problem' in db) {
    io.err(db.problem);
    return 1;
  }
  const { config } = db;
  if (!usable(config, io)) return 1;
  const args = parseArgs(db.args.join(' '));
  const type = (args.flags['physical'] && args.flags['physical'] !== 'true' ? args.flags['physical'] : args.words[0] ?? 'incr').toLowerCase();
  if (!PHYSICAL_TYPES.includes(type as PhysicalBackupType)) {
    io.err('usage: firebreak backup now --physical [full|diff|incr]');
    return 2;
  }
  if (!startsAtOnce(config.approvals, PITR_BACKUP_KIND)) {
    io.err(`Physical backups need an approval under your change policy, which the CLI cannot collect. Run \`/backup now --physical ${type}\` in Slack or the console, or make it a pre-approved standard change (approvals.actions["${PITR_BACKUP_KIND}"].preApproved: true).`);
    return 1;
  }
  return withCliRuntime(db.url, async ({ pool, log, signal }) => {
    const pitr = new Pitr({ config: config.pitr, pool, clock: systemClock, log, opsChannel: config.ops.channel, shutdownSignal: signal, rtoTargetMs: config.dr.targets.rtoMinutes * 60_000 });
    io.err(`physical ${type} backup of stanza ${config.pitr.stanza}…`);
    const out = await pitr.backup(type as PhysicalBackupType, { requestedBy: cliActor(), onProgress: (t) => io.err(plain(t)) });
    if ('busy' in out) {
      io.err(plain(say.physicalBusy(config.pitr.stanza)));
      return 1;
    }
    io.out(plain(say.physicalSummary(out.run, out.made)));
    return out.run.status === 'succeeded' ? 0 : 1;
  });
}

export const pitrCli: CliGroup = {
  name: 'pitr',
  summary: 'point-in-time recovery through pgBackRest: setup and status',
  verbs: {
    setup: 'render pgbackrest.conf, print the postgresql.conf lines, run stanza-create and check',
    status: 'WAL archiving, current RPO against target, each repository',
  },
  async run(verb, argv, io) {
    if (verb === 'setup') {
      // Setup needs no Firebreak database: it talks to pgBackRest and the cluster only.
      const config = loadConfig(process.env);
      if (!usable(config, io)) return 1;
      const r = await setupStanza(config.pitr).catch((err: unknown) => {
        io.err(`pitr setup: ${(err as Error).message}`);
        return undefined;
      });
      io.out(`# postgresql.conf on the database host (then restart PostgreSQL for archive_mode):`);
      for (const l of say.postgresqlConfLines(config.pitr.stanza, `${config.pitr.workDir}/pgbackrest.conf`, config.pitr.archiveTimeoutSeconds)) io.out(l);
      if (config.pitr.encryption.cipher !== 'none') io.out('# archive-push needs the cipher passphrase: put PGBACKREST_REPO<n>_CIPHER_PASS in the PostgreSQL service environment (never in postgresql.conf).');
      if (!r) return 1;
      io.out(`# pgbackrest.conf written to ${r.conf} (0600)`);
      io.out(`# stanza-create: ${r.stanzaCreate.replace(/^.*?INFO: /, '')}`);
      io.out(`# check: ${r.check.replace(/^.*?INFO: /, '')}`);
      return 0;
    }
    if (verb === 'status') {
      const db = cliDatabase(argv, 'pitr status');
      if ('problem' in db) {
        io.err(db.problem);
        return 1;
      }
      if (!usable(db.config, io)) return 1;
      return withCliRuntime(db.url, async ({ pool, log, signal }) => {
        const pitr = new Pitr({ config: db.config.pitr, pool, clock: systemClock, log, opsChannel: db.config.ops.channel, shutdownSignal: signal, rtoTargetMs: 0 });
        const s = await pitr.status();
        io.out(parseArgs(db.args.join(' ')).flags['json'] ? JSON.stringify(s, null, 2) : plain(say.statusMessage(s)));
        return 0;
      });
    }
    io.err('usage: firebreak pitr <setup|status>');
    return 2;
  },
};
