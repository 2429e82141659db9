import { createPool } from '../db/pool.js';
import { cliDatabase } from './runtime.js';
import { verifyAuditLog } from '../audit/verify.js';
import { auditVerdictText } from '../templates/approvals.js';
import type { CliGroup } from './types.js';

const USAGE = 'usage: firebreak audit verify [--database-url postgres://...]   (default: DATABASE_URL, else the embedded database of a running `npm start`)';

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
    const db = cliDatabase(args, 'audit verify');
    if ('problem' in db) {
      io.err(db.problem);
      return 2;
    }
    const pool = createPool(db.url, 2);
    try {
      const verdict = await verifyAuditLog(pool);
      (verdict.ok ? io.out : io.err)(auditVerdictText(verdict));
      return verdict.ok ? 0 : 1;
    } finally {
      await pool.end();
    }
  },
};
