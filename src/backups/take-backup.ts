import type { BackupTier } from './config.js';
import { BackupError } from './model.js';
import { runBackup, type BackupOutcome, type BackupProgress, type BackupRunContext, type BackupTarget } from './pipeline.js';
import { alertBackupFailed, ProgressReply, type BackupMessagesContext, type ProgressThread } from './messages.js';
import * as view from '../templates/backups.js';

export interface TakeBackupOptions {
  tier: BackupTier;
  requestedBy: string;
  thread?: ProgressThread;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
}

/**
 * Take a backup: run the pipeline (which holds the database's lock), show its progress in the
 * thread, end the thread with the summary, and report a failure to the ops channel. `running`
 * holds the backup's id while it runs, so `/backup now` can answer "busy" at once.
 */
export async function takeBackup(
  ctx: BackupRunContext & BackupMessagesContext & { shutdownSignal: AbortSignal },
  running: Map<string, string>,
  target: BackupTarget,
  opts: TakeBackupOptions,
): Promise<BackupOutcome | { busy: true }> {
  const thread = ctx.chat ? opts.thread : undefined;
  const progress = new ProgressReply(ctx, thread);
  const signal = opts.signal ? AbortSignal.any([opts.signal, ctx.shutdownSignal]) : ctx.shutdownSignal;
  let outcome: BackupOutcome;
  try {
    outcome = await runBackup(ctx, target, {
      tier: opts.tier,
      requestedBy: opts.requestedBy,
      signal,
      onStarted: (r) => {
        running.set(target.name, r.id);
        progress.say(view.backupProgress({ id: r.id, database: r.database, phase: 'dumping', storedBytes: 0, elapsedMs: 0 }));
      },
      onProgress: (p: BackupProgress) => {
        progress.say(view.backupProgress(p));
        opts.onProgress?.(p);
      },
    });
  } catch (err) {
    if (err instanceof BackupError && err.step === 'lock') return { busy: true };
    throw err;
  } finally {
    running.delete(target.name);
  }
  await progress.finish(outcome.record);
  if (outcome.error) await alertBackupFailed(ctx, outcome.record, thread);
  return outcome;
}
