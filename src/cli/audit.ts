import { createPool } from '../db/pool.js';
import { cliDatabase, flagValue } from './runtime.js';
import { verifyAuditLog, type AnchorCheck } from '../audit/verify.js';
import { latestAnchor, publishAnchor } from '../audit/anchor.js';
import { createObjectStore } from '../storage/index.js';
import { createLogger } from '../log.js';
import { systemClock } from '../clock.js';
import { auditVerdictText } from '../templates/approvals.js';
import type { CliGroup } from './types.js';

const USAGE = 'usage: firebreak audit verify [--expect-head <hash>] [--no-anchor] [--database-url postgres://...] | anchor [--database-url ...]   (default: DATABASE_URL, else the embedded database of a running `npm start`)';

/**
 * `firebreak audit verify`: the same check as `/audit verify`, for cron jobs and for when
 * Slack is down, against the latest anchor in the backup store and any head kept by hand.
 * `firebreak audit anchor` publishes one now.
 */
export const auditCli: CliGroup = {
  name: 'audit',
  summary: 'check the tamper-evident audit log and publish its anchor',
  verbs: {
    verify: 'recompute the hash chain, check it against the latest published anchor (and --expect-head <hash>); exit 0 if intact, 1 naming what broke',
    anchor: 'publish the current head hash and entry count as a write-once object in the backup store',
  },
  async run(verb, args, io) {
    if (verb !== 'verify' && verb !== 'anchor') {
      io.err(USAGE);
      return 2;
    }
    const db = cliDatabase(args, `audit ${verb}`);
    if ('problem' in db) {
      io.err(db.problem);
      return 2;
    }
    const store = createObjectStore(db.config.backups.storage, db.config.dataDir);
    const pool = createPool(db.url, 2);
    try {
      if (verb === 'anchor') {
        const r = await publishAnchor({ pool, store, clock: systemClock, log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) });
        io.out(`${r.created ? 'published' : 'already published'} ${store.location}/${r.key}: entry #${r.anchor.lastId}, ${r.anchor.eventCount} entries, head ${r.anchor.headHash}`);
        return 0;
      }
      const checks: AnchorCheck[] = [];
      const expect = flagValue(args, '--expect-head');
      if (args.includes('--expect-head') && !/^[0-9a-f]{64}$/.test(expect ?? '')) {
        io.err('--expect-head takes the 64-hex-digit head hash that `audit verify` or an anchor printed.');
        return 2;
      }
      if (expect) checks.push({ name: `--expect-head ${expect.slice(0, 12)}…`, headHash: expect });
      if (!args.includes('--no-anchor')) {
        const latest = await latestAnchor(store);
        if (latest) checks.push(latest);
      }
      const verdict = await verifyAuditLog(pool, checks);
      (verdict.ok ? io.out : io.err)(auditVerdictText(verdict));
      return verdict.ok ? 0 : 1;
    } finally {
      await pool.end();
    }
  },
};
