import { z } from 'zod';
import { validate as validCron } from 'node-cron';

const pgUrl = z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// connection URL');

/** One query run against the restored database in step 8; its first column of the first row must equal `expect`. */
export const smokeCheckSchema = z.object({
  name: z.string().min(1),
  sql: z.string().min(1),
  /** Compared as text with the first column of the first row (NULL reads as the empty string). */
  expect: z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v)),
});
export type SmokeCheck = z.infer<typeof smokeCheckSchema>;

/** Disaster recovery drills and execution: targets, the scratch server, checks after restore, the schedule. */
export const drConfigSchema = z
  .object({
    /** Which backed-up database a drill takes when no backup id is given (newest verified of it); unset = any. */
    database: z.string().optional(),
    /**
     * Admin connection URL of the server where dry runs create their scratch database
     * (`firebreak_dr_<run id>`; the role needs CREATEDB). Unset = Firebreak's own server, so a
     * drill adds no load to production. Dry runs only ever create and drop databases named
     * firebreak_dr_<n>, and only the one they created.
     */
    scratchDatabaseUrl: pgUrl.optional(),
    /**
     * Admin URL of the server `/dr execute --target <db>` recovers onto. Unset = the server of
     * the backed-up database (backups.databases, matched by the backup's database name), else
     * Firebreak's own server.
     */
    targetServerUrl: pgUrl.optional(),
    /** Where fetched and decrypted files are kept during a drill; unset = <os tmpdir>/firebreak-dr. */
    workDir: z.string().optional(),
    /** pg_restore -j. */
    restoreJobs: z.number().int().min(1).max(32).default(2),
    /** Step 1 refuses to start with less free space than this in workDir. */
    minFreeMiB: z.number().int().min(0).default(256),
    targets: z
      .object({
        rpoMinutes: z.number().positive().default(60),
        rtoMinutes: z.number().positive().default(240),
        stretchRpoMinutes: z.number().positive().default(5),
        stretchRtoMinutes: z.number().positive().default(60),
      })
      .prefault({}),
    /** Step 7: run after the restore, e.g. migrations. Either or both; the command runs first. */
    postRestore: z
      .object({
        /** argv (no shell); gets DATABASE_URL and PG* of the restored database in its environment. */
        command: z.array(z.string()).min(1).optional(),
        sql: z.string().optional(),
        timeoutSeconds: z.number().positive().default(600),
      })
      .prefault({}),
    /** Step 8, besides the row counts against the manifest. */
    smokeChecks: z.array(smokeCheckSchema).default([]),
    schedule: z
      .object({
        enabled: z.boolean().default(true),
        /** node-cron, UTC. Default: 03:00 on the 1st of each month. */
        cron: z.string().refine((c) => validCron(c), 'a valid cron expression').default('0 3 1 * *'),
        /** A daily check posts to the ops channel when no dry run has started for this many days. */
        overdueAfterDays: z.number().positive().default(35),
      })
      .prefault({}),
    /** Channel for scheduled drills' threads; unset = the ops channel. */
    channel: z.string().optional(),
    /** Shown as the last step of `/dr execute`. {target} and {targetUrl} are filled in. */
    switchTraffic: z
      .string()
      .default('Point the application at {targetUrl} (DATABASE_URL), restart it, then confirm writes succeed.'),
  })
  .prefault({});
export type DrConfig = z.infer<typeof drConfigSchema>;
