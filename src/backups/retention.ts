/**
 * GFS retention (grandfather-father-son), with the fail-safes a backup system needs:
 * - only verified, manifested backups count, and only they are ever deleted (failed and
 *   running attempts are the cleanup's business, not retention's);
 * - the newest verified backup of each database is always kept;
 * - never fewer than `floor` verified backups per database;
 * - time comes from the recorded snapshot time, never from key names or store timestamps.
 * `planRetention` is pure so the plan can be printed (`expire --dry-run`) and tested as tables.
 */
import type { Clock } from '../clock.js';
import type { Queryable } from '../db/pool.js';
import type { Logger } from '../log.js';
import { appendEvent } from '../events/log.js';
import type { ObjectStore } from '../storage/index.js';
import type { BackupRecord } from './model.js';
import { markExpired } from './store.js';

export interface RetentionPolicy {
  hourly: number;
  daily: number;
  monthly: number;
  floor: number;
}

export type KeepReason = 'newest' | 'floor' | 'hourly' | 'daily' | 'monthly';

export interface PlannedBackup {
  id: string;
  database: string;
  at: Date;
  keep: boolean;
  reasons: KeepReason[];
}

export interface RetentionPlan {
  /** Newest first per database. */
  backups: PlannedBackup[];
  keep: PlannedBackup[];
  expire: PlannedBackup[];
}

export const recordedAt = (b: Pick<BackupRecord, 'snapshotAt' | 'startedAt'>): Date => b.snapshotAt ?? b.startedAt;

const bucketOf: Record<'hourly' | 'daily' | 'monthly', (d: Date) => string> = {
  hourly: (d) => d.toISOString().slice(0, 13),
  daily: (d) => d.toISOString().slice(0, 10),
  monthly: (d) => d.toISOString().slice(0, 7),
};

/**
 * Keeps the newest backup of each of the last N hours / days / months that have one (UTC),
 * restic-style: a period with no backup does not use up a slot, so a long outage never ages
 * out the last good backups.
 */
export function planRetention(backups: BackupRecord[], policy: RetentionPolicy): RetentionPlan {
  const byDb = new Map<string, BackupRecord[]>();
  for (const b of backups) {
    if (b.status !== 'verified') continue;
    const list = byDb.get(b.database) ?? [];
    list.push(b);
    byDb.set(b.database, list);
  }
  const all: PlannedBackup[] = [];
  for (const [database, list] of [...byDb.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = list
      .map((b) => ({ b, at: recordedAt(b) }))
      .sort((x, y) => y.at.getTime() - x.at.getTime() || y.b.id.localeCompare(x.b.id));
    const planned = sorted.map(({ b, at }): PlannedBackup => ({ id: b.id, database, at, keep: false, reasons: [] }));
    const mark = (p: PlannedBackup, r: KeepReason) => {
      p.keep = true;
      p.reasons.push(r);
    };
    if (planned[0]) mark(planned[0], 'newest');
    for (const tier of ['hourly', 'daily', 'monthly'] as const) {
      const seen = new Set<string>();
      for (const p of planned) {
        if (seen.size >= policy[tier]) break;
        const bucket = bucketOf[tier](p.at);
        if (seen.has(bucket)) continue;
        seen.add(bucket);
        mark(p, tier);
      }
    }
    for (let i = 0, kept = planned.filter((p) => p.keep).length; i < planned.length && kept < policy.floor; i++) {
      if (!planned[i]!.keep) {
        mark(planned[i]!, 'floor');
        kept++;
      }
    }
    all.push(...planned);
  }
  return { backups: all, keep: all.filter((p) => p.keep), expire: all.filter((p) => !p.keep) };
}

export interface ExpireResult {
  plan: RetentionPlan;
  expired: string[];
  errors: string[];
}

/**
 * Expires what the plan says: the row first, then the manifest and the object. A backup whose
 * files are being deleted must never still read as good: with the files deleted first, a crash
 * or a database restart before the row changed left a 'verified' backup with nothing behind it
 * (the chaos run found several). Files a crash leaves behind belong to an expired row, and
 * cleanupStore removes them on a later run.
 */
export async function applyRetention(
  deps: { pool: Queryable & Parameters<typeof appendEvent>[0]; clock: Clock; log?: Logger },
  store: ObjectStore,
  records: BackupRecord[],
  plan: RetentionPlan,
  actor: string,
): Promise<ExpireResult> {
  const byId = new Map(records.map((r) => [r.id, r]));
  const expired: string[] = [];
  const errors: string[] = [];
  for (const p of plan.expire) {
    const r = byId.get(p.id);
    if (!r) continue;
    try {
      await markExpired(deps.pool, r.id, deps.clock.now());
      expired.push(r.id);
      await store.delete(r.manifestKey);
      await store.delete(r.objectKey);
    } catch (err) {
      errors.push(`${r.id}: ${(err as Error).message}`);
    }
  }
  if (expired.length || errors.length) {
    await appendEvent(deps.pool, {
      type: 'backup.expired', actor, subject: 'backups:retention', at: deps.clock.now(), payload: { expired, errors },
    }).catch((err: unknown) => deps.log?.warn({ err }, 'could not record the retention event'));
  }
  return { plan, expired, errors };
}

export interface CleanupResult {
  abortedUploads: string[];
  deletedObjects: string[];
}

/**
 * Removes what failed or crashed backups left: incomplete multipart uploads and objects with
 * no manifest, both only when older than `olderThanMs` (a running backup's object is never
 * touched). Objects of backups recorded as verified are never deleted here, manifest or not.
 */
export async function cleanupStore(
  store: ObjectStore,
  prefix: string,
  protectedKeys: Set<string>,
  now: Date,
  olderThanMs: number,
  opts: { dryRun?: boolean; expiredKeys?: Set<string> } = {},
): Promise<CleanupResult> {
  const cutoff = now.getTime() - olderThanMs;
  const abortedUploads: string[] = [];
  const deletedObjects: string[] = [];
  const p = prefix ? `${prefix}/` : '';
  for (const u of await store.listIncompleteUploads(p)) {
    if (u.initiated.getTime() >= cutoff) continue;
    if (!opts.dryRun) await store.abortIncompleteUpload(u);
    abortedUploads.push(u.key);
  }
  const objects: { key: string; lastModified: Date }[] = [];
  const manifests = new Set<string>();
  // Files of backups already recorded as expired (a deletion cut short): gone whatever their age.
  const leftovers: string[] = [];
  for await (const o of store.list(p)) {
    if (opts.expiredKeys?.has(o.key)) leftovers.push(o.key);
    else if (o.key.endsWith('.manifest.json')) manifests.add(o.key.slice(0, -'.manifest.json'.length));
    else objects.push(o);
  }
  for (const o of objects) {
    const base = o.key.replace(/\.dump\.zst\.age$/, '');
    if (manifests.has(base) || protectedKeys.has(o.key) || o.lastModified.getTime() >= cutoff) continue;
    if (!opts.dryRun) await store.delete(o.key);
    deletedObjects.push(o.key);
  }
  for (const key of leftovers) {
    if (!opts.dryRun) await store.delete(key);
    deletedObjects.push(key);
  }
  return { abortedUploads, deletedObjects };
}
