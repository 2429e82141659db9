import type { ChatMessage } from '../chat/surface.js';
import { escapeMrkdwn, messageBlocks, messageText, textSections } from './blocks.js';
import type { BackupRecord, Verification } from '../backups/model.js';
import type { BackupProgress } from '../backups/pipeline.js';
import type { RetentionPlan } from '../backups/retention.js';
import type { CleanupResult } from '../backups/retention.js';

/** What on-call reads about backups: what was done, how big, how long, what is next. */

const msg = (text: string): ChatMessage => ({ text: messageText(text), blocks: messageBlocks(textSections(text, { maxBlocks: 10 })) });

export function bytes(n: number | null | undefined): string {
  if (n == null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const rate = (n: number, ms: number) => (ms > 0 ? `${bytes((n * 1000) / ms)}/s` : '—');
const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

export function verificationText(v: Verification): string {
  const parts: string[] = [];
  if (v.checksum) parts.push('SHA-256 ✓');
  if (v.archive === true) parts.push(`pg_restore --list ✓${v.tables !== undefined ? ` (${v.tables} tables)` : ''}`);
  else if (v.archive) parts.push(`archive check ${v.archive}`);
  if (v.fullRestore) {
    parts.push(v.fullRestore.ok ? `full restore ✓ (${v.fullRestore.seconds}s, row counts match)` : `full restore ✗ ${(v.fullRestore.mismatches ?? []).slice(0, 3).join('; ')}`);
  }
  return parts.join(', ') || 'not checked';
}

/** `<@U…>` for a person, "the hourly schedule" for `schedule:hourly`, the text itself otherwise. */
function requester(by: string): string {
  if (/^[UW][A-Z0-9]+$/.test(by)) return `<@${by}>`;
  const schedule = /^schedule:(.+)$/.exec(by);
  return schedule ? `the ${schedule[1]} schedule` : by;
}

export function backupStarted(database: string, requestedBy: string, id?: string, restarted = false): ChatMessage {
  const again = restarted ? ' (started again: the replica running it stopped before it finished)' : '';
  return msg(`:floppy_disk: Backup of *${database}* started by ${requester(requestedBy)}${id ? ` — \`${id}\`` : ''}${again}. Progress in the thread.`);
}

/** The start message once the run is over: how it ended, at a glance. */
export function backupFinished(r: BackupRecord): ChatMessage {
  const how = r.status === 'verified' ? ':white_check_mark: is good' : r.status === 'interrupted' ? ':warning: was interrupted' : ':x: FAILED';
  return msg(`:floppy_disk: Backup of *${r.database}* started by ${requester(r.requestedBy)} — \`${r.id}\` ${how}. Details in the thread.`);
}

export function backupProgress(p: BackupProgress): ChatMessage {
  if (p.phase === 'dumping') {
    return msg(`:hourglass_flowing_sand: dumping: ${bytes(p.storedBytes)} compressed, encrypted and sent to the store (${rate(p.storedBytes, p.elapsedMs)}), ${duration(p.elapsedMs)} so far`);
  }
  // Landed: the backup is in the store; it becomes good once verified.
  const landed = `:inbox_tray: uploaded ${bytes(p.storedBytes)}${p.rawBytes !== undefined ? ` (${bytes(p.rawBytes)} archive)` : ''}${p.uploadedMs !== undefined ? ` in ${duration(p.uploadedMs)}` : ''}`;
  const what = p.phase === 'verifying' ? 'verifying (re-reading it from the store, exact row counts)' : 'writing the manifest';
  return msg(`${landed}; ${what}, ${duration(p.elapsedMs)} so far. It counts as a backup once verified.`);
}

export function backupSummary(r: BackupRecord): ChatMessage {
  const ms = r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : 0;
  if (r.status === 'verified') {
    return msg(
      `:white_check_mark: Backup \`${r.id}\` of *${r.database}* is good: ${bytes(r.storedBytes)} stored (${bytes(r.rawBytes)} archive), ` +
        `${duration(ms)} at ${rate(r.rawBytes ?? 0, ms)}. Verified: ${verificationText(r.verification)}. Data as of ${when(r.snapshotAt)}.`,
    );
  }
  return backupFailed(r);
}

export function backupFailed(r: BackupRecord): ChatMessage {
  const verb = r.status === 'interrupted' ? 'was interrupted' : 'FAILED';
  return msg(
    `:x: Backup \`${r.id}\` of *${r.database}* ${verb} — ${r.error ? escapeMrkdwn(r.error) : 'no error recorded'}. Nothing from this attempt counts as a backup. ` +
      `Next: fix the failing step and run \`/backup now ${r.database}\`; the newest good backup is unchanged (\`/backup list ${r.database}\`).`,
  );
}

export function backupStale(database: string, last: BackupRecord | undefined, limitMs: number, now: Date): ChatMessage {
  const age = last?.snapshotAt ? `the newest good backup is ${duration(now.getTime() - last.snapshotAt.getTime())} old (\`${last.id}\`)` : 'there is no good backup at all';
  return msg(`:rotating_light: Backups of *${database}* are overdue: ${age}; the limit is ${duration(limitMs)} (1.5× the schedule). A scheduled run was missed or failed. Check \`/backup list ${database}\` and run \`/backup now ${database}\`.`);
}

export function backupBusy(database: string): ChatMessage {
  return msg(`A backup of *${database}* is already running; backups of one database never overlap. \`/backup list ${database}\` shows it.`);
}

export function backupList(records: BackupRecord[], database?: string): ChatMessage {
  if (!records.length) return msg(`No backups${database ? ` of *${database}*` : ''} yet. Take one with \`/backup now${database ? ' ' + database : ''}\`.`);
  const lines = records.map((r) => {
    const icon = r.status === 'verified' ? ':white_check_mark:' : r.status === 'running' ? ':hourglass_flowing_sand:' : r.status === 'uploaded' ? ':inbox_tray:' : r.status === 'expired' ? ':wastebasket:' : ':x:';
    return `${icon} \`${r.id}\` ${r.database} ${r.tier} ${r.status} ${bytes(r.storedBytes)} — data as of ${when(r.snapshotAt ?? r.startedAt)}`;
  });
  return msg(`*Backups${database ? ` of ${database}` : ''}* (newest first):\n${lines.join('\n')}`);
}

export function backupDetails(r: BackupRecord): ChatMessage {
  const rows = r.rowCounts ? Object.entries(r.rowCounts) : [];
  const tables = rows.length ? `\nRow counts: ${rows.slice(0, 15).map(([t, n]) => `${t}=${n}`).join(', ')}${rows.length > 15 ? `, … (${rows.length} tables)` : ''}` : '';
  return msg(
    [
      `*Backup \`${r.id}\`* — ${r.status}${r.error ? ` (${escapeMrkdwn(r.error)})` : ''}`,
      `Database: ${r.database} (PostgreSQL ${r.serverVersion ?? '?'}, pg_dump ${r.pgDumpVersion ?? '?'}), tier ${r.tier}, requested by ${r.requestedBy}`,
      `Data as of ${when(r.snapshotAt)}; started ${when(r.startedAt)}, finished ${when(r.finishedAt)}`,
      `Size: ${bytes(r.storedBytes)} stored, ${bytes(r.rawBytes)} archive; SHA-256 ${r.sha256 ?? '—'}`,
      `Object: ${r.objectKey} in ${r.storeLocation}; format ${r.format}, encrypted to ${r.recipient}`,
      `Verified: ${verificationText(r.verification)}${r.verifiedAt ? ` at ${when(r.verifiedAt)}` : ''}`,
    ].join('\n') + tables,
  );
}

export function verifyResult(r: BackupRecord, ok: boolean, error?: string): ChatMessage {
  return ok
    ? msg(`:white_check_mark: Backup \`${r.id}\` checks out: ${verificationText(r.verification)}.`)
    : msg(`:x: Backup \`${r.id}\` did NOT verify: ${escapeMrkdwn(error ?? 'unknown error')}. ${r.status === 'failed' ? 'It no longer counts as a good backup.' : ''}`.trim());
}

export function retentionPlanText(plan: RetentionPlan, dryRun: boolean, cleanup?: CleanupResult, skipped: string[] = []): string {
  const head = dryRun ? '*Retention plan (dry run: nothing deleted)*' : '*Retention applied*';
  const keep = plan.keep.map((p) => `keep   ${p.id} (${p.reasons.join(', ')})`);
  const expire = plan.expire.map((p) => `${dryRun ? 'would expire' : 'expired'} ${p.id}`);
  const lines = [head, `${plan.keep.length} kept, ${plan.expire.length} ${dryRun ? 'to expire' : 'expired'}`, ...expire, ...keep];
  if (skipped.length) lines.push(`not counted (verified row but manifest missing in the store — investigate): ${skipped.join(', ')}`);
  if (cleanup) {
    const verb = dryRun ? 'would remove' : 'removed';
    lines.push(`cleanup: ${verb} ${cleanup.abortedUploads.length} incomplete upload(s) and ${cleanup.deletedObjects.length} manifest-less object(s) older than a day`);
    for (const k of [...cleanup.abortedUploads, ...cleanup.deletedObjects].slice(0, 20)) lines.push(`  ${k}`);
  }
  return lines.join('\n');
}

export function retentionPlanMessage(plan: RetentionPlan, dryRun: boolean, cleanup?: CleanupResult, skipped: string[] = []): ChatMessage {
  const text = retentionPlanText(plan, dryRun, cleanup, skipped);
  const [head, ...rest] = text.split('\n');
  return msg(`${head}\n\`\`\`\n${escapeMrkdwn(rest.join('\n'))}\n\`\`\``);
}

export function restoreDone(r: BackupRecord, into: string, seconds: number, mismatches: string[]): ChatMessage {
  return mismatches.length
    ? msg(`:warning: Restored \`${r.id}\` into *${into}* in ${seconds}s, but row counts differ from the backup: ${escapeMrkdwn(mismatches.slice(0, 5).join('; '))}`)
    : msg(`:white_check_mark: Restored \`${r.id}\` (data as of ${when(r.snapshotAt)}) into *${into}* in ${seconds}s; row counts match the backup's manifest.`);
}
