import type { AppContext } from '../context.js';
import type { BackupRecord } from '../backups/model.js';
import {
  RestoredRowCounter, backupStore, fetchDecryptedArchive, getBackup, latestVerifiedBackup, resolveIdentity, restoreArchive, rowCounts,
} from '../backups/restore.js';
import type { BackupSource, DrBackupRecord } from './backup-source.js';

/**
 * Binds the drill to the backups area's restore functions. Records only ever come from
 * getBackup/latestVerifiedBackup below, so handing them back as BackupRecord is exact.
 */
export function backupsRestoreSource(ctx: Pick<AppContext, 'pool' | 'config'>): BackupSource {
  const full = (r: DrBackupRecord) => r as BackupRecord;
  return {
    getBackup: async (id) => getBackup(ctx, id),
    latestVerifiedBackup: async (database) => latestVerifiedBackup(ctx, database),
    fetchArchive: async (r, archive, opts) => {
      await fetchDecryptedArchive(ctx, full(r), archive, opts);
    },
    restore: async (archive, url, opts) => restoreArchive(archive, url, { ...opts, binDir: ctx.config.backups.pgBinDir }),
    rowCounts: async (url) => rowCounts(url),
    rowCounter: (url) => new RestoredRowCounter(url),
    pingObjectStore: async () => backupStore(ctx).ping(),
    checkDecryptionKey: async () => {
      resolveIdentity(ctx);
    },
  };
}
