/** Physical backups and recovery runs as Firebreak sees them; no I/O here. */

/** Gate kinds of the pitr area (policies in approvals.actions; defaults in approvals/config.ts). */
export const PITR_BACKUP_KIND = 'backup.physical';
export const PITR_DRY_RUN_KIND = 'dr.pitr-dry-run';
export const PITR_EXECUTE_KIND = 'dr.pitr-execute';

export type PhysicalBackupType = 'full' | 'diff' | 'incr';
export const PHYSICAL_TYPES: readonly PhysicalBackupType[] = ['full', 'diff', 'incr'];

/** One backup in one repository, mapped from `pgbackrest info --output=json`. */
export interface PhysicalBackup {
  label: string;
  type: PhysicalBackupType;
  repo: number;
  startedAt: Date;
  stoppedAt: Date;
  /** Cluster size at backup time, and what this backup added to it (delta). */
  sizeBytes: number;
  deltaBytes: number;
  /** Bytes stored in the repository for this backup (compressed, encrypted). */
  repoBytes: number;
  walStart: string;
  walStop: string;
  /** The full (or diff) backup this one depends on. */
  prior: string | null;
  /** pgBackRest found page checksum errors while copying. */
  error: boolean;
}

export interface RepoInfo {
  repo: number;
  /** pgBackRest's status: 0 ok, 2 no valid backups, others are problems (missing stanza, unreadable). */
  code: number;
  message: string;
  cipher: string;
  walMin: string | null;
  walMax: string | null;
}

export interface StanzaInfo {
  stanza: string;
  backups: PhysicalBackup[];
  repos: RepoInfo[];
  /** A backup is running right now (pgBackRest holds its lock). */
  backupRunning: boolean;
}

interface RawInfo {
  name: string;
  backup?: Array<{
    label: string;
    type: string;
    database: { 'repo-key': number };
    timestamp: { start: number; stop: number };
    info: { size: number; delta: number; repository: { size: number; delta: number } };
    archive: { start: string | null; stop: string | null };
    prior: string | null;
    error?: boolean;
  }>;
  archive?: Array<{ database: { 'repo-key': number }; min: string | null; max: string | null }>;
  repo?: Array<{ key: number; cipher: string; status: { code: number; message: string } }>;
  status?: { lock?: { backup?: { held?: boolean } } };
}

/** Maps pgBackRest's JSON for one stanza; throws on anything that is not its shape. */
export function parseInfo(json: string, stanza: string): StanzaInfo {
  const all = JSON.parse(json) as RawInfo[];
  if (!Array.isArray(all)) throw new Error('pgbackrest info did not return a list of stanzas');
  const raw = all.find((s) => s.name === stanza);
  if (!raw) return { stanza, backups: [], repos: [], backupRunning: false };
  const backups: PhysicalBackup[] = (raw.backup ?? []).map((b) => {
    if (!PHYSICAL_TYPES.includes(b.type as PhysicalBackupType)) throw new Error(`pgbackrest info: unknown backup type ${b.type}`);
    return {
      label: b.label,
      type: b.type as PhysicalBackupType,
      repo: b.database['repo-key'],
      startedAt: new Date(b.timestamp.start * 1000),
      stoppedAt: new Date(b.timestamp.stop * 1000),
      sizeBytes: b.info.size,
      deltaBytes: b.info.delta,
      repoBytes: b.info.repository.delta,
      walStart: b.archive.start ?? '',
      walStop: b.archive.stop ?? '',
      prior: b.prior,
      error: b.error === true,
    };
  });
  const repos: RepoInfo[] = (raw.repo ?? []).map((r) => {
    const a = (raw.archive ?? []).find((x) => x.database['repo-key'] === r.key);
    return { repo: r.key, code: r.status.code, message: r.status.message, cipher: r.cipher, walMin: a?.min ?? null, walMax: a?.max ?? null };
  });
  return { stanza, backups, repos, backupRunning: raw.status?.lock?.backup?.held === true };
}

/** pgBackRest repository status codes that mean the repository itself cannot be used. */
export const repoUnreachable = (r: RepoInfo): boolean => r.code !== 0 && r.code !== 2;

/** What pg_stat_archiver and the WAL position say about archiving on the protected cluster. */
export interface ArchiverStatus {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
  /** The server's clock when read: RPO is measured on the database's clock, not Firebreak's. */
  serverNow: Date;
  /** WAL bytes written after the end of the last archived segment: what a disaster would lose. */
  unarchivedBytes: number;
}

/**
 * The current RPO in ms: how far back a recovery from the archive would reach, now. When no WAL
 * has been written since the last archived segment nothing is at risk (0); otherwise it is the
 * time since that segment was archived. Null when nothing was ever archived.
 */
export function currentRpoMs(s: ArchiverStatus): number | null {
  if (!s.lastArchivedAt) return null;
  if (s.unarchivedBytes <= 0) return 0;
  return Math.max(0, s.serverNow.getTime() - s.lastArchivedAt.getTime());
}

/** Archiving is failing: the latest attempt failed (after the latest success). */
export const archivingFailing = (s: ArchiverStatus): boolean =>
  s.lastFailedAt !== null && (s.lastArchivedAt === null || s.lastFailedAt.getTime() > s.lastArchivedAt.getTime());

/** The LSN just past the end of WAL segment `name` (timeline + log + seg, hex), for a segment size. */
export function segmentEndLsn(name: string, segmentBytes: number): bigint {
  if (!/^[0-9A-F]{24}$/i.test(name)) throw new Error(`not a WAL segment name: ${name}`);
  const log = BigInt(`0x${name.slice(8, 16)}`);
  const seg = BigInt(`0x${name.slice(16, 24)}`);
  const perLog = 0x1_0000_0000n / BigInt(segmentBytes);
  return (log * perLog + seg + 1n) * BigInt(segmentBytes);
}

export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  if (hi === undefined || lo === undefined) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** A recovery point: a timestamp, or the end of the archive. */
export type RecoveryTarget = { kind: 'time'; at: Date } | { kind: 'latest' };

/** Parses `--to`: `latest`, or a timestamp with an explicit zone (2026-12-03 10:15:00Z, ISO 8601). */
export function parseRecoveryTarget(text: string | undefined): RecoveryTarget | { problem: string } {
  if (!text || text === 'true') return { problem: 'name the recovery point: `--to "2026-12-03 10:15:00Z"` (UTC or with an offset) or `--to latest`' };
  if (text.toLowerCase() === 'latest') return { kind: 'latest' };
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i.test(t)) {
    return { problem: 'the time needs a date, a time and a zone, e.g. `2026-12-03 10:15:00Z` or `2026-12-03T11:15:00+01:00`' };
  }
  const at = new Date(t.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (Number.isNaN(at.getTime())) return { problem: `${t} is not a valid time` };
  return { kind: 'time', at };
}

/** PostgreSQL's timestamptz literal for a target: what pgBackRest passes as recovery_target_time. */
export const pgTimestamp = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '+00');

export type PitrRunKind = 'backup' | 'drill' | 'recovery' | 'expire' | 'verify';
export type PitrRunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

/** One Firebreak-driven pgBackRest operation, as recorded in pitr_runs. */
export interface PitrRun {
  id: number;
  kind: PitrRunKind;
  /** full/diff/incr for backups; the recovery point for drills and recoveries. */
  detail: string;
  repo: number | null;
  status: PitrRunStatus;
  requestedBy: string;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
  /** Labels made, RTO/RPO measured, row counts, ... */
  result: Record<string, unknown>;
}

/** What a drill or recovery measured. */
export interface RecoveryReport {
  target: RecoveryTarget;
  repo: number;
  /** Wall time from the start of the restore to a promoted, answering cluster. */
  rtoMs: number;
  /** Target time − last replayed transaction (time targets); null for `latest` or an empty replay. */
  achievedRpoMs: number | null;
  lastReplayedAt: Date | null;
  restoreMs: number;
  replayMs: number;
  rowCounts: Record<string, number>;
  smoke: Array<{ sql: string; ok: boolean; error?: string }>;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return 'n/a';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
