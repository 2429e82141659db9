import type { BackupTier } from './config.js';

/**
 * `running` → `uploaded` (in the store, size matched; verification under way) → `verified`
 * (the only good state). `interrupted`: stopped by shutdown or cancel; like `failed`, it never
 * counts as a backup.
 */
export type BackupStatus = 'running' | 'uploaded' | 'verified' | 'failed' | 'interrupted' | 'expired';

/** What one backup is: the PostgreSQL mirror of its manifest object. */
export interface BackupRecord {
  id: string;
  database: string;
  tier: BackupTier;
  status: BackupStatus;
  objectKey: string;
  manifestKey: string;
  storeLocation: string;
  sha256: string | null;
  rawBytes: number | null;
  storedBytes: number | null;
  format: string;
  recipient: string;
  serverVersion: string | null;
  pgDumpVersion: string | null;
  /** When the dump's snapshot was taken: the data is as of this time (RPO). */
  snapshotAt: Date | null;
  startedAt: Date;
  finishedAt: Date | null;
  verifiedAt: Date | null;
  verification: Verification;
  /** Exact row counts per table (schema.table) from the dump's own snapshot. */
  rowCounts: Record<string, number> | null;
  requestedBy: string;
  error: string | null;
  expiredAt: Date | null;
}

/** Which checks passed, so "verified" says what it means. */
export interface Verification {
  /** The stored object was re-read and its SHA-256 and size match what was uploaded. */
  checksum?: boolean;
  /** Decrypted, decompressed and `pg_restore --list` accepted it (needs the identity). */
  archive?: boolean | 'skipped: no identity';
  /** Restored into a scratch database and row counts matched (`verify --full`). */
  fullRestore?: { ok: boolean; seconds: number; mismatches?: string[] };
  tables?: number;
}

/** The manifest object, written last: its presence marks a complete, verified backup. */
export interface BackupManifest {
  version: 1;
  id: string;
  database: string;
  tier: BackupTier;
  objectKey: string;
  format: string;
  encryption: { scheme: 'age-v1-x25519'; recipient: string };
  compression: { tool: 'zstd'; level: number };
  serverVersion: string;
  pgDumpVersion: string;
  snapshotAt: string;
  startedAt: string;
  finishedAt: string;
  /** Uncompressed archive size (zstd's count); null when zstd did not report it. */
  rawBytes: number | null;
  storedBytes: number;
  sha256: string;
  rowCounts: Record<string, number> | null;
  verification: Verification;
}

/** Checksum mismatch, failed authentication, wrong key or unreadable archive. */
export class BackupIntegrityError extends Error {
  constructor(
    message: string,
    readonly backupId?: string,
  ) {
    super(message);
    this.name = 'BackupIntegrityError';
  }
}

/** pg_restore failed; carries its stderr. */
export class RestoreError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'RestoreError';
  }
}

/** A backup that could not be taken; `step` names where it failed. */
export class BackupError extends Error {
  constructor(
    readonly step: 'preflight' | 'pg_dump' | 'zstd' | 'encrypt' | 'upload' | 'verify' | 'manifest' | 'lock' | 'interrupted',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }
}

export const BACKUP_FORMAT = 'pg_dump-custom+zstd+age';

/** `<prefix>/<database>/<yyyy>/<mm>/<dd>/<id>`: date paths make listings by day cheap. */
export function objectKeys(prefix: string, database: string, id: string, at: Date): { objectKey: string; manifestKey: string } {
  const y = at.getUTCFullYear();
  const m = String(at.getUTCMonth() + 1).padStart(2, '0');
  const d = String(at.getUTCDate()).padStart(2, '0');
  const base = `${prefix ? prefix + '/' : ''}${database}/${y}/${m}/${d}/${id}`;
  return { objectKey: `${base}.dump.zst.age`, manifestKey: `${base}.manifest.json` };
}

/** Sortable, readable ids: `20260101T020500Z-main-3f9a`. */
export function newBackupId(database: string, at: Date, random: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${database}-${random}`;
}
