/**
 * Steps 3 and 4 are one stream (fetch → SHA-256 → age → zstd → archive), and a dry run creates
 * its scratch database alongside them. Which step a failure belongs to then depends on when it
 * happens: before the store sent its last byte it is the fetch's; after, the verification's.
 * A recovery (execute) creates its real target only once the archive is verified. The backup
 * source is faked; PostgreSQL is real (pre-flight, prepare and clean-up use it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Drill, type DrillDeps, type DrillPlan } from '../../src/dr/drill.js';
import type { BackupSource, DrBackupRecord } from '../../src/dr/backup-source.js';
import { configSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { BackupIntegrityError } from '../../src/backups/model.js';
import { StorageError } from '../../src/storage/index.js';
import { adminUrl } from '../support/db.js';
import { scratchDatabases } from './support.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'fb-dr-stream-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const record: DrBackupRecord = {
  id: 'b-stream', database: 'shop', rawBytes: 1000, storedBytes: 400, snapshotAt: new Date(), status: 'verified', verifiedAt: new Date(),
  rowCounts: {}, serverVersion: '15', pgDumpVersion: '15',
};

function drill(fetchArchive: BackupSource['fetchArchive'], plan: Partial<DrillPlan> = {}): Drill {
  const source: BackupSource = {
    getBackup: async () => record,
    latestVerifiedBackup: async () => record,
    fetchArchive,
    restore: async () => {
      throw new Error('must not restore');
    },
    rowCounts: async () => ({}),
  };
  const deps: DrillDeps = {
    config: configSchema.parse({ dr: { minFreeMiB: 1 } }).dr,
    clock: systemClock,
    log: createLogger({ level: 'silent' }),
    statePool: { query: async () => ({ rows: [] }) } as unknown as DrillDeps['statePool'],
    source,
  };
  const runId = 1_000_000 + Math.floor(Math.random() * 1e9);
  return new Drill(
    deps,
    { runId, kind: 'dry-run', backupId: record.id, serverUrl: adminUrl(), workDir, targets: { rtoMs: 3_600_000, rpoMs: 86_400_000, stretchRtoMs: 3_600_000, stretchRpoMs: 86_400_000 }, ...plan },
    new AbortController().signal,
    async () => {},
  );
}

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe('the streamed fetch and verify steps', () => {
  it('a store failure before the last byte fails step 3; step 4 stops with it; the scratch database made alongside is dropped', async () => {
    const out = await drill(async () => {
      throw new StorageError('download', 's3://b/k', new Error('connection reset'));
    }).run();
    const s = out.steps;
    expect(out.status).toBe('failed');
    expect(s[2]).toMatchObject({ key: 'fetch', status: 'failed' });
    expect(s[3]).toMatchObject({ key: 'verify', status: 'skipped', detail: 'stopped: the fetch did not complete' });
    expect(s[4]).toMatchObject({ key: 'prepare', status: 'passed' });
    for (const n of [5, 6, 7, 8]) expect(s[n]!.status).toBe('skipped');
    expect(s[9]).toMatchObject({ key: 'cleanup', status: 'passed' });
    expect(s[9]!.detail).toMatch(/^dropped firebreak_dr_\d+/);
    expect(out.error).toMatch(/^step 3 \(Fetch from the object store\) failed: /);
    expect(out.verdict.rtoMs).toBeNull();
    expect(await scratchDatabases(adminUrl())).not.toContain(out.targetDatabase);
  });

  it('fewer bytes than the manifest says fail step 3 with both sizes', async () => {
    const out = await drill(async (_r, _f, opts) => {
      opts.onFetched?.(399);
      throw new BackupIntegrityError('size mismatch', record.id);
    }).run();
    expect(out.steps[2]).toMatchObject({ status: 'failed', detail: 'fetched 399 bytes, the manifest says 400' });
    expect(out.steps[3]!.status).toBe('skipped');
  });

  it('a checksum or decryption failure after the last byte fails step 4, with step 3 passed', async () => {
    const out = await drill(async (_r, _f, opts) => {
      opts.onFetched?.(400);
      throw new BackupIntegrityError('checksum mismatch for backup b-stream: object SHA-256 aa, manifest says bb', record.id);
    }).run();
    expect(out.steps[2]).toMatchObject({ status: 'passed' });
    expect(out.steps[2]!.detail).toMatch(/^0\.0 MiB at \d+ MiB\/s, streamed into step 4$/);
    expect(out.steps[3]).toMatchObject({ status: 'failed', detail: 'checksum mismatch for backup b-stream: object SHA-256 aa, manifest says bb' });
    expect(out.error).toMatch(/^step 4 \(Decrypt and verify checksum\) failed: checksum mismatch/);
    expect(out.steps[6]!.status).toBe('skipped');
  });

  it('a recovery does not create its target from an archive that failed verification', async () => {
    const target = `fb_dr_stream_${Math.floor(Math.random() * 1e9)}`;
    const out = await drill(
      async (_r, _f, opts) => {
        opts.onFetched?.(400);
        throw new BackupIntegrityError('backup b-stream failed decryption: authentication failed on chunk 3', record.id);
      },
      { kind: 'execute', targetDatabase: target },
    ).run();
    expect(out.steps[3]!.status).toBe('failed');
    expect(out.steps[4]).toMatchObject({ key: 'prepare', status: 'skipped' });
    expect(await databaseExists(target)).toBe(false);
  });
});
