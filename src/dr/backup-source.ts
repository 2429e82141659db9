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
  /**
   * Fetches the stored object and, in the same pass, checks its size and SHA-256 against the
   * manifest, decrypts and decompresses it into `archiveFile` (a pg_restore archive). Calls
   * `onFetched` when the store has sent the last byte: a rejection before that is the fetch's,
   * after it the verification's. Resolves only when every check passed.
   */
  fetchArchive(record: DrBackupRecord, archiveFile: string, opts: { signal?: AbortSignal; onFetched?: (bytes: number) => void }): Promise<void>;
  /**
   * pg_restore --exit-on-error; throws with pg_restore's stderr; the signal kills it.
   * `onTableRestored(table)` hears of each table whose data is loaded (parallel restores only).
   */
  restore(archiveFile: string, targetDatabaseUrl: string, opts: { jobs?: number; signal?: AbortSignal; onTableRestored?: (table: string) => void }): Promise<void>;
  rowCounts(databaseUrl: string): Promise<Record<string, number>>;
  /** Row counts taken while a restore runs (fed by onTableRestored); absent = counted after it. */
  rowCounter?(databaseUrl: string): RowCounter;
  /** Reachability of the object store for pre-flight; absent = not checked before the fetch. */
  pingObjectStore?(): Promise<void>;
  /** Throws when this process could not decrypt a backup (no identity configured): pre-flight says so before a long fetch. */
  checkDecryptionKey?(): Promise<void>;
}

/** Counts rows of a database as its tables are restored; counts() gives every table's, as rowCounts does. */
export interface RowCounter {
  tableRestored(table: string): void;
  counts(): Promise<Record<string, number>>;
  /** Tables counted while the restore ran. */
  readonly earlyCount: number;
  close(): Promise<void>;
}
