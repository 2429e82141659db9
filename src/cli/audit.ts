import { createPool } from '../db/pool.js';
import { loadConfig } from '../config/load.js';
import { verifyAuditLog } from '../audit/verify.js';
import { auditVerdictText } from '../templates/approvals.js';
import type { CliGroup } from './types.js';

const USAGE = 'usage: firebreak audit verify [--database-url postgres://...]   (default: DATABASE_URL)';

/** `firebreak audit verify`: the same check as `/audit verify`, for cron jobs and for when Slack is down. */
export const auditCli: CliGroup = {
  name: 'audit',
  summary: 'check the tamper-evident audit log',
  verbs: { verify: 'recompute the hash chain of the audit log; exit 0 if intact, 1 naming the first broken entry' },
  async run(verb, args, io) {
    if (verb !== 'verify') {
      io.err(USAGE);
      return 2;
    }
    const i = args.indexOf('--database-url');
    const url = i >= 0 ? args[i + 1] : loadConfig(process.env).databaseUrl;
    if (!url) {
      io.err('firebreak audit verify needs the database: set DATABASE_URL (or pass --database-url).');
      return 2;
    }
    const pool = createPool(url, 2);
    try {
      const verdict = await verifyAuditLog(pool);
      (verdict.ok ? io.out : io.err)(auditVerdictText(verdict));
      return verdict.ok ? 0 : 1;
    } finally {
      await pool.end();
    }
  },
};
