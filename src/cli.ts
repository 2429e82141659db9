/**
 * `firebreak <group> <verb>`: the operator CLI. Each group lives in src/cli/<area>.ts and
 * drives the same services as the chat commands, for use without Slack.
 */
import type { CliGroup, CliIo } from './cli/types.js';
import { alertsCli } from './cli/alerts.js';
import { auditCli } from './cli/audit.js';
import { backupCli } from './cli/backup.js';
import { configCli } from './cli/config.js';
import { drCli } from './cli/dr.js';
import { incidentsCli } from './cli/incidents.js';
import { migrateCli } from './cli/migrate.js';
import { pitrCli } from './cli/pitr.js';
import { runbooksCli } from './cli/runbooks.js';

// One entry per area; keep the list sorted by name.
const GROUPS: CliGroup[] = [
  alertsCli,
  auditCli,
  backupCli,
  configCli,
  drCli,
  incidentsCli,
  migrateCli,
  pitrCli,
  runbooksCli,
];

function help(io: CliIo): void {
  io.out('usage: firebreak <group> <verb> [args]\n');
  for (const g of GROUPS) {
    io.out(`${g.name} — ${g.summary}`);
    for (const [verb, text] of Object.entries(g.verbs)) io.out(`  firebreak ${g.name} ${verb}\t${text}`);
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [group, verb, ...args] = argv;
  const g = GROUPS.find((x) => x.name === group);
  if (!group || group === 'help' || group === '--help' || !g) {
    if (group && !g && group !== 'help' && group !== '--help') io.err(`unknown command "${group}"`);
    help(io);
    return group && !g && group !== 'help' && group !== '--help' ? 2 : 0;
  }
  try {
    return await g.run(verb, args, io);
  } catch (e) {
    io.err(`firebreak ${group} ${verb ?? ''}: ${(e as Error).message}`);
    return 1;
  }
}

const io: CliIo = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
process.exitCode = await runCli(process.argv.slice(2), io);
