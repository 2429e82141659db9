import { z } from 'zod';
import nodeCron from 'node-cron';
import { parseRecipient } from './age.js';

const cronExpression = z.string().refine((s) => nodeCron.validate(s), 'a valid cron expression (5 or 6 fields)');

/** One database Firebreak backs up. The password may sit in the URL (it is passed to pg_dump via PGPASSWORD, never argv), come from `passwordEnv`, or from a libpq `passfile`. */
export const backupTargetSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'letters, digits, - and _'),
  url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// connection URL'),
  /** Environment variable holding the password, so the YAML file carries none. */
  passwordEnv: z.string().optional(),
  /** libpq password file (PGPASSFILE). */
  passfile: z.string().optional(),
});
export type BackupTarget = z.infer<typeof backupTargetSchema>;

export const backupTierSchema = z.enum(['hourly', 'daily', 'monthly', 'manual']);
export type BackupTier = z.infer<typeof backupTierSchema>;

export const backupScheduleSchema = z.object({
  name: z.string().regex(/^[a-z0-9_-]+$/i),
  cron: cronExpression,
  /** Tier recorded on the backups this schedule takes; a daily run on the 1st of a month is recorded as monthly. */
  tier: z.enum(['hourly', 'daily', 'monthly']),
  /** Target names; empty = every target. */
  databases: z.array(z.string()).default([]),
});

export const storageConfigSchema = z
  .object({
    /** S3 bucket; unset = a local directory (`localDir`, default `<dataDir>/backups`). */
    bucket: z.string().optional(),
    prefix: z.string().default('firebreak').transform((s) => s.replace(/^\/+|\/+$/g, '')),
    /** S3-compatible endpoint (MinIO, Ceph, moto); unset = AWS. */
    endpoint: z.string().url().optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(false),
    /** Server-side encryption on top of age: AES256 or aws:kms. */
    sse: z.enum(['AES256', 'aws:kms']).optional(),
    kmsKeyId: z.string().optional(),
    /** WHEN_REQUIRED for non-AWS servers (the SDK's default checksum mode breaks several); default: WHEN_REQUIRED when an endpoint is set. */
    checksums: z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']).optional(),
    /**
     * Multipart part size; unset = chosen per backup from the database's size (partSizeFor in
     * src/storage/s3.ts: 5 MiB up to ~25 GiB, larger only as S3's 10,000-part limit needs). A
     * set value is a floor. Each part in flight is held in memory.
     */
    partSizeMiB: z.number().int().min(5).max(5120).optional(),
    /** Parts uploaded concurrently. The upload holds queueSize + 1 part buffers (src/storage/multipart.ts). */
    queueSize: z.number().int().min(1).max(16).default(1),
    localDir: z.string().optional(),
  })
  .prefault({});
export type StorageConfig = z.infer<typeof storageConfigSchema>;

export const backupsConfigSchema = z
  .object({
    /** Databases to back up; empty = Firebreak's own database (`databaseUrl`), named after it. */
    databases: z.array(backupTargetSchema).default([]),
    schedules: z
      .array(backupScheduleSchema)
      .default([
        { name: 'hourly', cron: '5 * * * *', tier: 'hourly', databases: [] },
        { name: 'daily', cron: '35 2 * * *', tier: 'daily', databases: [] },
      ]),
    storage: storageConfigSchema,
    encryption: z
      .object({
        /** age X25519 recipient (public key, `age1...`): all the bot needs to encrypt. */
        recipient: z.string().startsWith('age1', 'an age X25519 recipient (age1...)').optional(),
        /** Secret identity (`AGE-SECRET-KEY-1...`) from FIREBREAK_BACKUP_IDENTITY(_FILE); only needed to verify contents and restore. */
        identity: z.string().optional(),
      })
      .prefault({}),
    /** zstd level for the dump stream (pg_dump runs with -Z0). */
    zstdLevel: z.number().int().min(1).max(19).default(3),
    /** Directory with pg_dump/pg_restore (e.g. /usr/lib/postgresql/16/bin); unset = PATH. */
    pgBinDir: z.string().optional(),
    /** Record exact per-table row counts (same snapshot as the dump) in the manifest. */
    rowCounts: z.boolean().default(true),
    /** Re-read and check every backup after upload. */
    verifyAfterBackup: z.boolean().default(true),
    retention: z
      .object({
        hourly: z.number().int().min(0).default(24),
        daily: z.number().int().min(0).default(30),
        monthly: z.number().int().min(0).default(12),
        /** Never keep fewer verified backups per database than this. */
        floor: z.number().int().min(1).default(3),
        /** Incomplete uploads and manifest-less objects older than this are removed. */
        staleHours: z.number().positive().default(24),
        /** Cron for the retention run; empty string = off. */
        cron: z.union([z.literal(''), cronExpression]).default('50 * * * *'),
      })
      .prefault({}),
    /** Alert when the newest good backup is older than this factor x the schedule interval. */
    staleFactor: z.number().min(1).default(1.5),
    /** When to check that every database has a good backup within staleFactor x its schedule interval. */
    staleCheckCron: cronExpression.default('*/10 * * * *'),
    /** How often the progress thread message is edited. */
    progressEverySeconds: z.number().positive().default(5),
  })
  .prefault({});
export type BackupsConfig = z.infer<typeof backupsConfigSchema>;

/**
 * Why backups cannot encrypt with this configuration, or undefined when they can. Checked by
 * `/backup now` before it asks anyone to approve, and by `config check`, so nobody approves a
 * backup that is bound to fail at its first step.
 */
export function backupKeyProblem(cfg: BackupsConfig): string | undefined {
  const r = cfg.encryption.recipient;
  if (!r) return 'no encryption key: set FIREBREAK_BACKUP_RECIPIENT (backups.encryption.recipient) to an age1... public key (`age-keygen -o key.txt` prints one) and FIREBREAK_BACKUP_IDENTITY_FILE to the key file, kept away from the backups';
  try {
    parseRecipient(r);
  } catch (err) {
    return `backups.encryption.recipient is not a usable age recipient: ${(err as Error).message}`;
  }
  return undefined;
}
