import { createPool } from '../db/pool.js';
import { grantAppRole, migrate } from '../db/migrate.js';
import { loadConfig } from '../config/load.js';
import type { CliGroup } from './types.js';
import { flagValue } from './runtime.js';

const USAGE = 'usage: firebreak migrate [--app-role ROLE] [--database-url postgres://owner@...]   (defaults: FIREBREAK_APP_ROLE, DATABASE_URL)';

/**
 * `firebreak migrate`: the one step that needs the owner role. Applies pending migrations,
 * then grants the application role (named by the operator, never fixed in a migration)
 * exactly what it needs, so the application itself runs without DDL rights.
 */
export const migrateCli: CliGroup = {
  name: 'migrate',
  summary: 'apply database migrations as the owner role and grant the application role',
  verbs: { '[--app-role ROLE] [--database-url URL]': 'apply pending migrations, then grant ROLE (or FIREBREAK_APP_ROLE) the application privileges' },
  async run(verb, rest, io) {
    const args = verb ? [verb, ...rest] : rest;
    if (args.includes('--help')) {
      io.out(USAGE);
      return 0;
    }
    const config = loadConfig(process.env);
    const url = flagValue(args, '--database-url') ?? config.databaseUrl;
    const role = flagValue(args, '--app-role') ?? config.databaseAppRole;
    if (!url) {
      io.err(`firebreak migrate needs the database as its owner role: set DATABASE_URL or pass --database-url.\n${USAGE}`);
      return 2;
    }
    if (role !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(role)) {
      io.err(`--app-role ${role}: not a PostgreSQL role name.`);
      return 2;
    }
    const pool = createPool(url, 2);
    try {
      const applied = await migrate(pool);
      io.out(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'no pending migrations');
      if (role) {
        await grantAppRole(pool, role);
        io.out(`granted role ${role} the application privileges (events: SELECT, INSERT only)`);
      } else {
        io.out('no application role given (--app-role or FIREBREAK_APP_ROLE): no grants changed');
      }
      return 0;
    } finally {
      await pool.end();
    }
  },
};
