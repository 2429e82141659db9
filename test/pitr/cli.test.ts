/**
 * `firebreak pitr setup`, `firebreak backup now --physical` and `firebreak pitr status` against a
 * real cluster and pgBackRest, configured the way an operator does it: the YAML file for the
 * `pitr` section and FIREBREAK_PITR_CIPHER_PASS in the environment.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { pitrCli } from '../../src/cli/pitr.js';
import { backupCli } from '../../src/cli/backup.js';
import { configCli } from '../../src/cli/config.js';
import type { CliGroup } from '../../src/cli/types.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { runCliText } from '../support/cli.js';
import { PASSPHRASE, startCluster, type TestCluster } from './cluster.js';

let db: TestDatabase;
let c: TestCluster;
let file: string;
const saved = { ...process.env };

const cli = (group: CliGroup, verb: string, ...args: string[]) => runCliText(group, verb, args);

beforeAll(async () => {
  db = await createTestDatabase('fb_pitr_cli');
  c = await startCluster({ stanza: 'cli' });
  const { encryption: _secret, ...pitr } = c.config;
  file = path.join(mkdtempSync(path.join(tmpdir(), 'fb-pitr-cli-')), 'firebreak.yml');
  writeFileSync(file, stringify({ pitr: { ...pitr, encryption: { cipher: 'aes-256-cbc' } }, approvals: { actions: { 'backup.physical': { preApproved: true } } } }));
  Object.assign(process.env, { FIREBREAK_CONFIG: file, DATABASE_URL: db.url, FIREBREAK_PITR_CIPHER_PASS: PASSPHRASE, LOG_LEVEL: 'silent' });
}, 120_000);
afterAll(async () => {
  process.env = saved;
  c?.destroy();
  await db?.drop();
});

describe('firebreak pitr', () => {
  it('setup prints the postgresql.conf lines and runs stanza-create and check; backup now --physical and status follow', async () => {
    const setup = await cli(pitrCli, 'setup');
    expect(setup.err).toBe('');
    expect(setup.code).toBe(0);
    expect(setup.out).toContain(`archive_command = 'pgbackrest --config=${c.config.workDir}/pgbackrest.conf --stanza=cli archive-push %p'`);
    expect(setup.out).toContain('wal_level = replica');
    expect(setup.out).toContain('archive_mode = on');
    expect(setup.out).toContain('archive_timeout = 60');
    expect(setup.out).toMatch(/# check: check command end: completed successfully/);
    expect(setup.out).not.toContain(PASSPHRASE);

    const backup = await cli(backupCli, 'now', '--physical', 'full');
    expect(backup.code).toBe(0);
    expect(backup.out).toMatch(/Physical full backup #\d+ done in/);
    expect(backup.err).toMatch(/full backup, repository 1 of 1: copying files/);

    const status = await cli(pitrCli, 'status');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/repo1 \(aes-256-cbc\): ok; WAL [0-9A-F]{24}…[0-9A-F]{24}; newest backup \d{8}-\d{6}F \(full/);
  }, 180_000);

  it('config check names what an enabled but partial pitr section lacks', async () => {
    const partial = path.join(path.dirname(file), 'partial.yml');
    writeFileSync(partial, stringify({ pitr: { enabled: true, repos: [{ path: '/tmp/x' }] } }));
    process.env.FIREBREAK_CONFIG = partial;
    try {
      const r = await cli(configCli, 'check', '--offline');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/- pitr: pitr.pg.dataDir is required/);
    } finally {
      process.env.FIREBREAK_CONFIG = file;
    }
  }, 60_000);
});
