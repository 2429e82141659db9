import { startsAtOnce } from '../approvals/service.js';
import { cliDatabase, withCliRuntime } from './runtime.js';
import { systemClock } from '../clock.js';
import { parseArgs } from '../commands/table.js';
import { BackupService, BackupUserError } from '../backups/service.js';
import * as view from '../templates/backups.js';
import type { ChatMessage } from '../chat/surface.js';
import type { CliGroup, CliIo } from './types.js';
import { physicalBackupCli } from './pitr.js';

/** Chat text without Slack markup, for a terminal. */
const plain = (m: ChatMessage | string) =>
  (typeof m === 'string' ? m : m.text).replace(/:[a-z_]+: /g, '').replace(/<@([^>]+)>/g, '$1').replace(/[*`]/g, '');

const USAGE: Record<string, string> = {
  now: 'now [database] | now --physical [full|diff|incr]',
  list: 'list [database] [--limit N] [--json]',
  show: 'show <id> [--json]',
  verify: 'verify <id> [--full]',
  restore: 'restore <id> <new-database>',
  expire: 'expire [--dry-run]',
};

async function run(verb: string, argv: string[], io: CliIo): Promise<number> {
  // Physical backups belong to the pitr area (pgBackRest); same verb, its own flow.
  if (verb === 'now' && argv.includes('--physical')) return physicalBackupCli(argv, io);
  const db = cliDatabase(argv, `backup ${verb}`);
  if ('problem' in db) throw new BackupUserError(db.problem);
  const { config } = db;
  const args = parseArgs(db.args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' '));
  const [first, second] = args.words;
  // Ctrl-C stops a running backup cleanly: it is recorded as interrupted, never as good.
  return withCliRuntime(db.url, async ({ pool, log, signal }) => {
    const s = new BackupService({ config, pool, clock: systemClock, log, shutdownSignal: signal });
    switch (verb) {
      case 'now': {
        // The CLI cannot collect approvals: it takes backups only where policy pre-approves them.
        if (!startsAtOnce(config.approvals, 'backup.now')) {
          io.err('Backups on demand need an approval under your change policy, which the CLI cannot collect. Run `/backup now` in Slack or the console, or make it a pre-approved standard change (approvals.actions["backup.now"].preApproved: true).');
          return 1;
        }
        const target = s.target(first);
        io.err(`backing up ${target.name}…`);
        const out = await s.take(target, { tier: 'manual', requestedBy: `cli:${process.env.USER ?? 'unknown'}`, onProgress: (p) => io.err(plain(view.backupProgress(p))) });
        if ('busy' in out) {
          io.err(plain(view.backupBusy(target.name)));
          return 1;
        }
        io.out(plain(view.backupSummary(out.record)));
        return out.error ? 1 : 0;
      }
      case 'list': {
        if (first) s.target(first);
        const limit = args.flags['limit'] ? Number(args.flags['limit']) : 20;
        if (!Number.isInteger(limit) || limit < 1) throw new BackupUserError('--limit is a positive whole number');
        const list = await s.list({ database: first, limit });
        io.out(args.flags['json'] ? JSON.stringify(list, null, 2) : plain(view.backupList(list, first)));
        return 0;
      }
      case 'show': {
        if (!first) throw new BackupUserError(`usage: firebreak backup ${USAGE.show}`);
        const r = await s.get(first);
        io.out(args.flags['json'] ? JSON.stringify(r, null, 2) : plain(view.backupDetails(r)));
        return 0;
      }
      case 'verify': {
        if (!first) throw new BackupUserError(`usage: firebreak backup ${USAGE.verify}`);
        const r = await s.verify(first, { full: args.flags['full'] === 'true', actor: `cli:${process.env.USER ?? 'unknown'}` });
        io.out(plain(view.verifyResult(r.record, r.ok, r.error)));
        return r.ok ? 0 : 1;
      }
      case 'restore': {
        if (!first || !second) throw new BackupUserError(`usage: firebreak backup ${USAGE.restore}`);
        // The CLI has no approval flow, so it only ever creates a new database.
        const r = await s.restore(first, second, { requestedBy: `cli:${process.env.USER ?? 'unknown'}` });
        io.out(plain(view.restoreDone(r.record, r.into, r.seconds, r.mismatches)));
        return r.mismatches.length ? 1 : 0;
      }
      case 'expire': {
        const dryRun = args.flags['dry-run'] === 'true';
        const r = await s.expire({ dryRun, actor: `cli:${process.env.USER ?? 'unknown'}` });
        io.out(plain(view.retentionPlanText(r.plan, dryRun, r.cleanup, r.skipped)));
        for (const e of r.errors) io.err(`could not expire ${e}`);
        return r.errors.length ? 1 : 0;
      }
    }
    return 2;
  });
}

export const backupCli: CliGroup = {
  name: 'backup',
  summary: 'take, list, verify, restore and expire PostgreSQL backups without Slack',
  verbs: {
    [USAGE.now!]: 'take a backup now (progress on stderr); exit 1 if it is not good',
    [USAGE.list!]: 'backups newest first by recorded time',
    [USAGE.show!]: 'everything recorded about one backup',
    [USAGE.verify!]: 're-read and check; --full restores into a scratch database and compares row counts',
    [USAGE.restore!]: 'restore into a NEW database on the same server (existing ones need /backup restore and approval)',
    [USAGE.expire!]: 'apply GFS retention and clean orphans; --dry-run prints the plan only',
  },
  async run(verb, args, io) {
    if (!verb || !USAGE[verb]) {
      io.err(`usage: firebreak backup <${Object.keys(USAGE).join('|')}> ...`);
      return 2;
    }
    try {
      return await run(verb, args, io);
    } catch (err) {
      if (err instanceof BackupUserError) {
        io.err(err.message.replace(/`/g, ''));
        return 1;
      }
      throw err;
    }
  },
};
