import type { ChatMessage } from '../chat/surface.js';
import { escapeMrkdwn, messageBlocks, messageText, textSections } from './blocks.js';
import { formatBytes, formatMs, type ArchiverStatus, type PhysicalBackup, type PitrRun, type RecoveryReport, type RecoveryTarget, type RepoInfo } from '../pitr/model.js';

/**
 * Everything the pitr area says in chat (and, with markup stripped, on the CLI). pgBackRest's
 * own error text is outside text: it is escaped before it is shown.
 */

const msg = (text: string): ChatMessage => ({ text: messageText(text), blocks: messageBlocks(textSections(text, { maxBlocks: 12 })) });
const when = (d: Date | null | undefined): string => (d ? d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
const esc = escapeMrkdwn;

export const targetText = (t: RecoveryTarget): string => (t.kind === 'latest' ? 'the latest archived WAL' : when(t.at));

export const physicalStarted = (type: string, stanza: string, repos: number, by: string): ChatMessage =>
  msg(`:floppy_disk: Physical *${type}* backup of stanza *${esc(stanza)}* started by <@${esc(by)}> (pgBackRest, ${repos} ${repos === 1 ? 'repository' : 'repositories'}); progress in the thread.`);

export const physicalProgress = (type: string, repo: number, repos: number, phase: string, elapsedMs: number): ChatMessage =>
  msg(`:hourglass_flowing_sand: ${type} backup, repository ${repo} of ${repos}: ${esc(phase)} (${formatMs(elapsedMs)} so far)`);

export function physicalSummary(run: PitrRun, made: PhysicalBackup[]): ChatMessage {
  if (run.status !== 'succeeded') {
    return msg(`:x: Physical ${run.detail} backup #${run.id} ${run.status === 'interrupted' ? 'was interrupted' : 'FAILED'}: ${esc(run.error ?? 'no reason recorded')}. No backup was recorded from this run; \`/backup status\` shows archiving, \`/backup now --physical ${run.detail}\` retries.`);
  }
  const lines = made.map((b) => `• repo${b.repo}: \`${b.label}\` ${b.type}, ${formatBytes(b.sizeBytes)} cluster, ${formatBytes(b.repoBytes)} stored, WAL ${b.walStart}…${b.walStop}`);
  const took = run.finishedAt ? formatMs(run.finishedAt.getTime() - run.startedAt.getTime()) : '?';
  return msg(`:white_check_mark: Physical ${run.detail} backup #${run.id} done in ${took}:\n${lines.join('\n')}\nNext: \`/backup list\` shows it; \`/dr dry-run --to latest\` proves it restores.`);
}

export const physicalBusy = (stanza: string): ChatMessage =>
  msg(`A physical backup of *${esc(stanza)}* is already running; pgBackRest runs one at a time. \`/backup status\` shows it.`);

export function physicalList(backups: PhysicalBackup[], limit: number): string[] {
  return backups.slice(0, limit).map(
    (b) => `• *physical* ${b.type} \`${b.label}\` repo${b.repo} — ${when(b.stoppedAt)}, ${formatBytes(b.sizeBytes)} (${formatBytes(b.repoBytes)} stored), WAL ${b.walStart}…${b.walStop}${b.error ? ' :warning: page checksum errors' : ''}`,
  );
}

export interface StatusView {
  stanza: string;
  archiver: ArchiverStatus | { error: string };
  rpoMs: number | null;
  rpoTargetMs: number;
  repos: Array<RepoInfo & { newest: PhysicalBackup | undefined }>;
  infoError?: string;
  problems: Array<{ key: string; firstSeenAt: Date; detail: string }>;
}

export function statusMessage(v: StatusView): ChatMessage {
  const lines: string[] = [`*Point-in-time recovery: stanza ${esc(v.stanza)}*`];
  if ('error' in v.archiver) {
    lines.push(`:x: Cannot read pg_stat_archiver: ${esc(v.archiver.error)}`);
  } else {
    const a = v.archiver;
    const ok = v.rpoMs !== null && v.rpoMs <= v.rpoTargetMs;
    lines.push(`${ok ? ':white_check_mark:' : ':warning:'} *Current RPO ${formatMs(v.rpoMs)}* (target ${formatMs(v.rpoTargetMs)})${a.unarchivedBytes <= 0 ? ' — nothing written since the last archived segment' : ''}`);
    lines.push(`WAL archiving: last archived \`${a.lastArchivedWal ?? 'none'}\` at ${when(a.lastArchivedAt)}, ${a.archivedCount} archived, ${a.failedCount} failed${a.lastFailedAt ? ` (last failure \`${a.lastFailedWal ?? '?'}\` at ${when(a.lastFailedAt)})` : ''}`);
  }
  if (v.infoError) lines.push(`:x: pgbackrest info failed: ${esc(v.infoError)}`);
  for (const r of v.repos) {
    const icon = r.code === 0 ? ':white_check_mark:' : r.code === 2 ? ':warning:' : ':x:';
    lines.push(`${icon} repo${r.repo} (${esc(r.cipher)}): ${esc(r.message)}; WAL ${r.walMin ?? '—'}…${r.walMax ?? '—'}; newest backup ${r.newest ? `\`${r.newest.label}\` (${r.newest.type}, ${when(r.newest.stoppedAt)})` : 'none'}`);
  }
  for (const p of v.problems) lines.push(`:rotating_light: open problem \`${esc(p.key)}\` since ${when(p.firstSeenAt)}: ${esc(p.detail)}`);
  return msg(lines.join('\n'));
}

export const drillStarted = (kind: 'drill' | 'recovery', target: RecoveryTarget, repo: number, by: string): ChatMessage =>
  msg(kind === 'drill'
    ? `:test_tube: PITR dry run to *${targetText(target)}* from repo${repo}, started by <@${esc(by)}>: restore into a scratch cluster, validate, measure RTO and RPO, drop it. Production is not touched.`
    : `:rotating_light: PITR *recovery* to *${targetText(target)}* from repo${repo} into the configured recovery target, started by <@${esc(by)}>.`);

export const drillStep = (text: string): ChatMessage => msg(`:hourglass_flowing_sand: ${esc(text)}`);

export function drillResult(run: PitrRun, report: RecoveryReport | undefined, rtoTargetMs: number, rpoTargetMs: number): ChatMessage {
  const what = run.kind === 'drill' ? 'PITR dry run' : 'PITR recovery';
  if (run.status !== 'succeeded' || !report) {
    return msg(`:x: ${what} #${run.id} to ${esc(run.detail)} ${run.status === 'interrupted' ? 'was interrupted' : 'FAILED'}: ${esc(run.error ?? 'no reason recorded')}.${run.kind === 'drill' ? ' The scratch cluster was removed.' : ''}`);
  }
  const counts = Object.entries(report.rowCounts).map(([t, n]) => `${esc(t)} ${n}`).join(', ');
  const smokeBad = report.smoke.filter((s) => !s.ok);
  return msg([
    `:white_check_mark: ${what} #${run.id} to ${targetText(report.target)} from repo${report.repo} passed.`,
    `*RTO ${formatMs(report.rtoMs)}* (target ${formatMs(rtoTargetMs)}): restore ${formatMs(report.restoreMs)}, WAL replay and promotion ${formatMs(report.replayMs)}.`,
    `*Achieved RPO ${formatMs(report.achievedRpoMs)}* (target ${formatMs(rpoTargetMs)}): last transaction replayed at ${when(report.lastReplayedAt)}.`,
    `Smoke SQL: ${report.smoke.length - smokeBad.length}/${report.smoke.length} passed${counts ? `; row counts: ${counts}` : ''}.`,
    run.kind === 'drill' ? 'The scratch cluster was stopped and removed.' : 'The recovered cluster is running on the recovery target; switch traffic to it when you have checked it.',
  ].join('\n'));
}

export const problemAlert = (key: string, detail: string): ChatMessage => msg(`:rotating_light: *PITR problem* \`${esc(key)}\`: ${esc(detail)}`);
export const problemCleared = (key: string): ChatMessage => msg(`:white_check_mark: PITR problem \`${esc(key)}\` has cleared.`);

export const verifyResult = (ok: boolean, lines: string[]): ChatMessage =>
  msg(`${ok ? ':white_check_mark: pgbackrest verify passed' : ':x: pgbackrest verify found problems'}:\n${lines.map((l) => `• ${esc(l)}`).join('\n')}`);

/** The postgresql.conf lines `firebreak pitr setup` prints. */
export function postgresqlConfLines(stanza: string, conf: string, archiveTimeoutSeconds: number): string[] {
  return [
    "wal_level = replica",
    "archive_mode = on",
    `archive_command = 'pgbackrest --config=${conf} --stanza=${stanza} archive-push %p'`,
    `archive_timeout = ${archiveTimeoutSeconds}`,
    'max_wal_senders = 3',
  ];
}
