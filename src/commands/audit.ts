import type pg from 'pg';
import type { CommandTable } from './table.js';
import { helpSubcommand, tokenize } from './table.js';
import { recentAuditEntries, type AuditFilter } from '../audit/store.js';
import { AUDIT_TYPE_PREFIXES, AUDIT_TYPES } from '../audit/kinds.js';
import { verifyAuditLog, type AnchorCheck } from '../audit/verify.js';
import { auditLogMessage, auditVerdictMessage } from '../templates/approvals.js';

const FILTER_HELP =
  'Filter by kind (`change`, `change.approved`, `dr`, `backup`, `restore`, `incident`), subject (`change:12`, `dr:3`), ' +
  'incident (`INC-12`), person (@someone) and `--limit N` (max 50); words combine.';

const KNOWN_KINDS = new Set<string>([...AUDIT_TYPE_PREFIXES.map((p) => p.slice(0, -1)), ...AUDIT_TYPES, 'incident']);

/** Reads `/audit log` words into a filter, or says which word it could not use. */
export function parseAuditFilter(text: string): AuditFilter | { error: string } {
  const f: AuditFilter = {};
  const tokens = tokenize(text);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let m: RegExpExecArray | null;
    if (t === '--limit') {
      const n = Number(tokens[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 50) return { error: '`--limit` takes a number from 1 to 50.' };
      f.limit = n;
    } else if ((m = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(t)) || (m = /^([UW][A-Z0-9]{4,})$/.exec(t))) {
      f.actor = m[1];
    } else if ((m = /^INC-(\d+)$/i.exec(t))) {
      f.incidentId = Number(m[1]);
    } else if (/^[a-z][a-z_-]*:[\w.-]+$/i.test(t)) {
      f.subject = t;
    } else if (/^[a-z][a-z_.-]*$/i.test(t) && (KNOWN_KINDS.has(t.toLowerCase().split('.')[0]!) || KNOWN_KINDS.has(t.toLowerCase()))) {
      f.type = t.toLowerCase();
    } else {
      return { error: `I can't filter the audit log by \`${t}\`. ${FILTER_HELP}` };
    }
  }
  return f;
}

/** The audit chain's anchors outside the database (src/audit/anchor.ts), as commands use them. */
export interface AnchorPort {
  latest(): Promise<AnchorCheck | undefined>;
  publish(): Promise<{ key: string; created: boolean; anchor: { lastId: number; eventCount: number; headHash: string } }>;
}

/** `/audit`: read and check the tamper-evident log, and publish its anchor. */
export function auditCommands(pool: pg.Pool, anchors: AnchorPort): CommandTable {
  const table: CommandTable = {
    command: '/audit',
    description: 'Check and read the tamper-evident audit log (approvals, executions, break-glass, incidents, backups, restores, DR).',
    subcommands: [
      {
        name: 'verify',
        usage: '',
        description: 'Recompute the whole hash chain, check it against the latest published anchor, and name the first broken entry, if any.',
        run: async (_args, _inv, ctx) => {
          const latest = await anchors.latest();
          return ctx.reply.ephemeral(auditVerdictMessage(await verifyAuditLog(pool, latest ? [latest] : [])));
        },
      },
      {
        name: 'anchor',
        usage: '',
        description: 'Publish the current head hash and entry count now (write-once in the backup store, posted to the audit channel).',
        run: async (_args, _inv, ctx) => {
          const r = await anchors.publish();
          return ctx.reply.ephemeral(`${r.created ? 'Published' : 'Already published'}: entry #${r.anchor.lastId}, ${r.anchor.eventCount} entries, head ${r.anchor.headHash} (${r.key}).`);
        },
      },
      {
        name: 'log',
        usage: '[filter] [--limit N]',
        description: `Recent audit entries, newest first. ${FILTER_HELP}`,
        run: async (args, _inv, ctx) => {
          const f = parseAuditFilter(args.rest);
          if ('error' in f) return ctx.reply.ephemeral(f.error);
          const shown = args.rest.replace(/--limit\s+\S+/, '').replace(/\s+/g, ' ').trim();
          return ctx.reply.ephemeral(auditLogMessage(await recentAuditEntries(pool, f), shown));
        },
      },
      helpSubcommand(() => table),
    ],
  };
  return table;
}
