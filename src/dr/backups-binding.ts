import type { AppContext } from '../context.js';
import type { BackupRecord } from '../backups/model.js';
import {
  backupStore, fetchBackupObject, getBackup, latestVerifiedBackup, resolveIdentity, restoreArchive, rowCounts, verifyAndDecrypt,
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
    fetch: async (r, dest, opts) => fetchBackupObject(ctx, full(r), dest, opts),
    verifyAndDecrypt: async (r, src, archive, opts) => verifyAndDecrypt(ctx, full(r), src, archive, opts),
    restore: async (archive, url, opts) => restoreArchive(archive, url, { ...opts, binDir: ctx.config.backups.pgBinDir }),
    rowCounts: async (url) => rowCounts(url),
    pingObjectStore: async () => backupStore(ctx).ping(),
    checkDecryptionKey: async () => {
      resolveIdentity(ctx);
    },
  };
}
