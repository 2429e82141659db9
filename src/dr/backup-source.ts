/**
 * What a drill needs from the backups area, as a narrow interface: the drill engine is
 * written against it, and src/dr/backups-binding.ts binds it to src/backups/restore.ts. The bench
 * binds the same functions, so both measure the code that runs in production.
 */
export interface DrBackupRecord {
  id: string;
  database: string;
  rawBytes: number | null;
  storedBytes: number | null;
  /** The moment the data in the backup is from: what RPO is measured against. */
  snapshotAt: Date | null;
  status: string;
  verifiedAt: Date | null;
  /** Per-table row counts written in the manifest; empty or null when the backup did not count. */
  rowCounts: Record<string, number> | null;
  serverVersion: string | null;
  pgDumpVersion: string | null;
}

export interface BackupSource {
  getBackup(id: string): Promise<DrBackupRecord | undefined>;
  latestVerifiedBackup(database?: string): Promise<DrBackupRecord | undefined>;
  /** Downloads the stored (encrypted) object to destFile. */
  fetch(record: DrBackupRecord, destFile: string, opts: { signal?: AbortSignal }): Promise<{ bytes: number }>;
  /** Checks the stored object's SHA-256 and decrypts it into a pg_restore archive; throws when either fails. */
  verifyAndDecrypt(record: DrBackupRecord, srcFile: string, archiveFile: string, opts: { signal?: AbortSignal }): Promise<void>;
  /** pg_restore --exit-on-error; throws with pg_restore's stderr; the signal kills it. */
  restore(archiveFile: string, targetDatabaseUrl: string, opts: { jobs?: number; signal?: AbortSignal }): Promise<void>;
  rowCounts(databaseUrl: string): Promise<Record<string, number>>;
  /** Reachability of the object store for pre-flight; absent = not checked before the fetch. */
  pingObjectStore?(): Promise<void>;
  /** Throws when this process could not decrypt a backup (no identity configured): pre-flight says so before a long fetch. */
  checkDecryptionKey?(): Promise<void>;
}
