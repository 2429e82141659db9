/**
 * The audit log is the one event log (src/events/log.ts) read for the kinds of event that
 * prove who decided and did what: change decisions and executions, break-glass, incident
 * declare/resolve, backups, restores and DR runs. Areas make an event auditable by naming
 * its type under one of these prefixes; nothing is copied to a second table.
 */
export const AUDIT_TYPE_PREFIXES = ['change.', 'backup.', 'restore.', 'dr.', 'retention.', 'maintenance.', 'statuspage.', 'config.'] as const;
export const AUDIT_TYPES = ['incident.declared', 'incident.resolved', 'incident.reopened'] as const;

/** LIKE patterns matching every audit type, for SQL. */
export const AUDIT_TYPE_PATTERNS: string[] = [
  ...AUDIT_TYPE_PREFIXES.map((p) => `${p.replace(/[%_\\]/g, (m) => `\\${m}`)}%`),
  ...AUDIT_TYPES,
];
