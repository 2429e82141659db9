import { createPool } from '../db/pool.js';
import { systemClock } from '../clock.js';
import { cliDatabase } from './runtime.js';
import { incidentEvents } from '../events/log.js';
import { getIncident, latestPostmortem, openIncidents } from '../incidents/store.js';
import { incidentMetrics } from '../incidents/model.js';
import { postmortemMarkdown } from '../templates/postmortem.js';
import { exactDuration, exactTime } from '../templates/incidents.js';
import type { CliGroup } from './types.js';

const USAGE = 'usage: firebreak incidents list [--json] | firebreak incidents postmortem <id> [--database-url postgres://...]';

/**
 * `firebreak incidents`: read incidents without Slack. `postmortem` prints the stored draft,
 * or renders one from the timeline when none was stored yet (it stores nothing).
 */
export const incidentsCli: CliGroup = {
  name: 'incidents',
  summary: 'read incidents and post-mortems from the database',
  verbs: {
    'list [--json]': 'open incidents with severity, status, commander and MTTA so far; --json for scripts',
    'postmortem <id>': 'print the latest post-mortem Markdown (rendered from the timeline if none is stored)',
  },
  async run(verb, args, io) {
    if (verb !== 'list' && verb !== 'postmortem') {
      io.err(USAGE);
      return 2;
    }
    const db = cliDatabase(args, `incidents ${verb}`);
    if ('problem' in db) {
      io.err(db.problem);
      return 2;
    }
    const json = db.args.includes('--json');
    const positional = db.args.filter((a) => a !== '--json');
    const id = Number(String(positional[0] ?? '').replace(/^(?:inc-?|#)/i, ''));
    if (verb === 'postmortem' && !(Number.isInteger(id) && id > 0)) {
      io.err(USAGE);
      return 2;
    }
    const pool = createPool(db.url, 2);
    try {
      if (verb === 'list') {
        const open = await openIncidents(pool);
        if (json) {
          io.out(JSON.stringify(open.map((i) => ({ ...i, mttaMs: incidentMetrics(i).mtta ?? null })), null, 2));
          return 0;
        }
        if (open.length === 0) io.out('no open incidents');
        for (const i of open) {
          const m = incidentMetrics(i);
          io.out(`INC-${i.id}\t${i.severity}\t${i.status}\tIC ${i.commander ?? '-'}\tdeclared ${exactTime(i.declaredAt)}\tMTTA ${exactDuration(m.mtta)}\t${i.title}`);
        }
        return 0;
      }
      const incident = await getIncident(pool, id);
      if (!incident) {
        io.err(`There is no INC-${id}.`);
        return 1;
      }
      const stored = await latestPostmortem(pool, id);
      io.out(stored?.markdown ?? postmortemMarkdown({ incident, events: await incidentEvents(pool, id), generatedAt: systemClock.now(), generatedBy: 'cli' }));
      return 0;
    } finally {
      await pool.end();
    }
  },
};
