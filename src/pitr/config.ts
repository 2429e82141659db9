import { z } from 'zod';
import nodeCron from 'node-cron';

const cronExpression = z.string().refine((s) => nodeCron.validate(s), 'a valid cron expression (5 or 6 fields)');
const absolutePath = z.string().regex(/^\//, 'an absolute path');

/**
 * One pgBackRest repository. A directory (posix) repository is the tested, reliable kind; an S3
 * repository needs TLS (pgBackRest 2.45 speaks only https to S3), see README "Point-in-time recovery".
 */
export const pitrRepoSchema = z.union([
  z.strictObject({
    /** A directory on Firebreak's host (the repository host). */
    path: absolutePath,
  }),
  z.strictObject({
    s3: z.strictObject({
      bucket: z.string().min(3),
      /** host[:port] of the S3 endpoint, e.g. s3.eu-west-1.amazonaws.com. */
      endpoint: z.string().min(1),
      region: z.string().min(1),
      /** Path inside the bucket. */
      path: absolutePath.default('/pgbackrest'),
      /** Path-style URLs (MinIO, moto); default: virtual-host style (AWS). */
      pathStyle: z.boolean().default(false),
      /** false only for self-signed test servers. */
      verifyTls: z.boolean().default(true),
      /** Environment variables holding the access key pair (never the values in YAML). */
      keyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('AWS_ACCESS_KEY_ID'),
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('AWS_SECRET_ACCESS_KEY'),
    }),
  }),
]);
export type PitrRepo = z.infer<typeof pitrRepoSchema>;

/**
 * Physical backups and point-in-time recovery through pgBackRest: Firebreak renders the
 * pgbackrest.conf it runs with, drives backup/restore/verify/expire, and watches archiving.
 * Off unless `enabled`; when enabled, a partial section is an error (`pitrConfigProblem`).
 */
export const pitrConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** pgBackRest stanza: one PostgreSQL cluster. */
    stanza: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'letters, digits, - and _').default('main'),
    /** The cluster being protected. */
    pg: z
      .object({
        /** Its data directory (pg1-path). */
        dataDir: absolutePath.optional(),
        port: z.number().int().min(1).max(65535).default(5432),
        /** Unix socket directory pgBackRest and Firebreak connect through (pg1-socket-path). */
        socketDir: absolutePath.default('/var/run/postgresql'),
        /** Database superuser pgBackRest connects as (pg1-user). */
        user: z.string().min(1).default('postgres'),
        /** Database the drills' smoke SQL and row counts run in. */
        database: z.string().min(1).default('postgres'),
        /** The OS user owning the data directory; pgBackRest and scratch clusters run as it when Firebreak runs as root. */
        osUser: z.string().min(1).default('postgres'),
      })
      .prefault({}),
    /** One or two (or more, up to 4) repositories; every backup and every WAL segment goes to each. */
    repos: z.array(pitrRepoSchema).max(4).default([]),
    retention: z
      .object({
        /** Full backups kept per repository (repoN-retention-full). */
        full: z.number().int().min(1).default(2),
        /** Differential backups kept per repository (repoN-retention-diff). */
        diff: z.number().int().min(1).default(7),
      })
      .prefault({}),
    encryption: z
      .object({
        /** Repository cipher; `none` stores WAL and backups unencrypted. */
        cipher: z.enum(['aes-256-cbc', 'none']).default('aes-256-cbc'),
        /** From FIREBREAK_PITR_CIPHER_PASS(_FILE) only; passed to pgBackRest in its environment. */
        passphrase: z.string().min(20, 'at least 20 characters (openssl rand -base64 48)').optional(),
      })
      .prefault({}),
    /** The archive_timeout `firebreak pitr setup` recommends, in seconds: the worst-case RPO on a quiet database. */
    archiveTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
    /** Alert when the current RPO stays above this many seconds. */
    rpoTargetSeconds: z.number().int().positive().default(300),
    /** ... for this many minutes in a row (one alert per episode). */
    rpoAlertAfterMinutes: z.number().min(0).default(5),
    /** A physical backup older than this many hours is stale (default: a week plus a day). */
    staleAfterHours: z.number().positive().default(192),
    /** Cron (UTC) per backup type; '' turns one off. Expire runs after each scheduled backup. */
    schedule: z
      .object({
        full: z.union([z.literal(''), cronExpression]).default('15 1 * * 0'),
        diff: z.union([z.literal(''), cronExpression]).default('15 1 * * 1-6'),
        incr: z.union([z.literal(''), cronExpression]).default('45 * * * *'),
        /** The archiving/RPO/staleness/repository watch. */
        watch: cronExpression.default('* * * * *'),
      })
      .prefault({}),
    /** Where Firebreak writes its rendered pgbackrest.conf, locks and logs (0700, owned by pg.osUser). */
    workDir: absolutePath.optional(),
    /** Scratch clusters for drills are restored under here; unset = workDir/scratch. */
    scratchDir: absolutePath.optional(),
    /** Directory with initdb/pg_ctl/postgres of the cluster's major version. */
    pgBinDir: absolutePath.default('/usr/lib/postgresql/15/bin'),
    /** pgbackrest binary. */
    pgbackrest: z.string().min(1).default('pgbackrest'),
    /** Parallel processes for backup and restore (process-max). */
    processMax: z.number().int().min(1).max(32).default(2),
    /** `/dr execute --to` restores into this data directory, which must not hold a running cluster. */
    recoveryTarget: z
      .object({
        dataDir: absolutePath.optional(),
        port: z.number().int().min(1).max(65535).optional(),
      })
      .prefault({}),
    /** Drills: SQL that must succeed on the restored cluster, and tables whose row counts are reported. */
    smokeSql: z.array(z.string().min(1)).default(['SELECT 1']),
    countTables: z.array(z.string().regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/i)).default([]),
  })
  .prefault({});
export type PitrConfig = z.infer<typeof pitrConfigSchema>;

/**
 * Why this configuration cannot run physical backups, or undefined when it can (or is off).
 * `config check` prints it; the commands refuse with it before asking anyone to approve.
 */
export function pitrConfigProblem(cfg: PitrConfig): string | undefined {
  if (!cfg.enabled) return undefined;
  if (!cfg.pg.dataDir) return 'pitr.pg.dataDir is required: the data directory of the cluster to protect';
  if (!cfg.workDir) return 'pitr.workDir is required: where Firebreak keeps its rendered pgbackrest.conf, locks and logs';
  if (cfg.repos.length === 0) return 'pitr.repos needs at least one repository ({ path: /var/lib/pgbackrest } or { s3: {...} })';
  if (cfg.encryption.cipher !== 'none' && !cfg.encryption.passphrase) {
    return 'pitr.encryption.cipher is aes-256-cbc but no passphrase: set FIREBREAK_PITR_CIPHER_PASS (or FIREBREAK_PITR_CIPHER_PASS_FILE), or set cipher: none';
  }
  const dirs = cfg.repos.flatMap((r) => ('path' in r ? [r.path] : []));
  if (new Set(dirs).size !== dirs.length) return 'pitr.repos lists the same directory twice: a second repository must be somewhere else';
  return undefined;
}
