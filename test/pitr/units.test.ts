/** The pitr area's pure parts: config problems, the rendered conf and child environment, targets, RPO arithmetic, info mapping. */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pitrConfigProblem, pitrConfigSchema } from '../../src/pitr/config.js';
import { PgBackRest, renderConf, writeConf } from '../../src/pitr/pgbackrest.js';
import { currentRpoMs, parseInfo, parseRecoveryTarget, segmentEndLsn, type ArchiverStatus } from '../../src/pitr/model.js';
import { restoreArgs } from '../../src/pitr/cluster.js';
import { loadConfig } from '../../src/config/load.js';

const SECRET = 'a-very-secret-cipher-passphrase-0123456789';
const base = { enabled: true, pg: { dataDir: '/srv/pg/data' }, workDir: '/var/lib/firebreak/pitr', repos: [{ path: '/backup/r1' }, { path: '/backup/r2' }], encryption: { passphrase: SECRET } };

describe('pitr config', () => {
  it('is off by default and names what a partial section lacks', () => {
    expect(pitrConfigProblem(pitrConfigSchema.parse({}))).toBeUndefined();
    expect(pitrConfigProblem(pitrConfigSchema.parse({ enabled: true }))).toMatch(/pitr.pg.dataDir is required/);
    expect(pitrConfigProblem(pitrConfigSchema.parse({ ...base, repos: [] }))).toMatch(/at least one repository/);
    expect(pitrConfigProblem(pitrConfigSchema.parse({ ...base, encryption: {} }))).toMatch(/FIREBREAK_PITR_CIPHER_PASS/);
    expect(pitrConfigProblem(pitrConfigSchema.parse({ ...base, repos: [{ path: '/b' }, { path: '/b' }] }))).toMatch(/same directory twice/);
    expect(pitrConfigProblem(pitrConfigSchema.parse(base))).toBeUndefined();
    expect(pitrConfigSchema.parse(base).schedule).toMatchObject({ full: '15 1 * * 0', diff: '15 1 * * 1-6', incr: '45 * * * *' });
  });

  it('reads the passphrase from FIREBREAK_PITR_CIPHER_PASS(_FILE) only, never from the YAML file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fb-pitr-cfg-'));
    const file = path.join(dir, 'pass');
    writeFileSync(file, SECRET + '\n');
    expect(loadConfig({ FIREBREAK_PITR_CIPHER_PASS_FILE: file }).pitr.encryption.passphrase).toBe(SECRET);
    const yaml = path.join(dir, 'firebreak.yml');
    writeFileSync(yaml, `pitr:\n  encryption:\n    passphrase: ${SECRET}\n`);
    expect(() => loadConfig({ FIREBREAK_CONFIG: yaml })).toThrow(/is a secret and is not read from the config file; set FIREBREAK_PITR_CIPHER_PASS/);
  });
});

describe('the rendered pgbackrest.conf and the child environment', () => {
  const cfg = pitrConfigSchema.parse(base);

  it('lists both repositories with retention and cipher type, and never the passphrase', () => {
    const conf = renderConf(cfg);
    expect(conf).toContain('repo1-path=/backup/r1');
    expect(conf).toContain('repo2-path=/backup/r2');
    expect(conf).toContain('repo2-retention-full=2');
    expect(conf).toContain('repo1-cipher-type=aes-256-cbc');
    expect(conf).toContain('[main]\npg1-path=/srv/pg/data');
    expect(conf).not.toContain(SECRET);
  });

  it('writes it 0600', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'fb-pitr-conf-'));
    const file = await writeConf(pitrConfigSchema.parse({ ...base, workDir: work }), undefined);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
  });

  it('gives the child the passphrase for each repository and nothing else of Firebreak\'s environment', () => {
    const env = new PgBackRest(cfg, undefined, { PATH: '/usr/bin', SLACK_BOT_TOKEN: 'xoxb-secret', DATABASE_URL: 'postgres://x', PGHOST: '/tmp' }).childEnv();
    expect(env).toEqual({ PATH: '/usr/bin', PGHOST: '/tmp', PGBACKREST_REPO1_CIPHER_PASS: SECRET, PGBACKREST_REPO2_CIPHER_PASS: SECRET });
  });

  it('restores a scratch cluster with archiving off, to a time with promotion', () => {
    expect(restoreArgs({ kind: 'time', at: '2026-12-03 10:15:00+00' }, 2, '/s/data', { scratch: true, delta: false })).toEqual([
      '--pg1-path=/s/data', '--repo=2', '--type=time', '--target=2026-12-03 10:15:00+00', '--target-action=promote', '--archive-mode=off', 'restore',
    ]);
    expect(restoreArgs({ kind: 'latest' }, 1, '/t', { scratch: false, delta: true })).toEqual(['--pg1-path=/t', '--repo=1', '--type=default', '--delta', 'restore']);
  });
});

describe('recovery targets and RPO', () => {
  it('parses --to with a zone, or latest; refuses a time without a zone', () => {
    expect(parseRecoveryTarget('latest')).toEqual({ kind: 'latest' });
    expect(parseRecoveryTarget('2026-12-03 10:15:00Z')).toEqual({ kind: 'time', at: new Date('2026-12-03T10:15:00Z') });
    expect(parseRecoveryTarget('2026-12-03T11:15:00+0100')).toEqual({ kind: 'time', at: new Date('2026-12-03T10:15:00Z') });
    expect(parseRecoveryTarget('2026-12-03 10:15:00')).toMatchObject({ problem: expect.stringMatching(/zone/) });
    expect(parseRecoveryTarget(undefined)).toMatchObject({ problem: expect.stringMatching(/--to/) });
    expect(parseRecoveryTarget("2026-12-03 10:15:00Z'; DROP")).toMatchObject({ problem: expect.any(String) });
  });

  it('segment ends and the current RPO', () => {
    expect(segmentEndLsn('000000010000000000000003', 16 * 1024 * 1024)).toBe(0x4000000n);
    expect(segmentEndLsn('0000000100000001000000FF', 16 * 1024 * 1024)).toBe(0x200000000n);
    const s: ArchiverStatus = {
      archivedCount: 3, lastArchivedWal: '000000010000000000000003', lastArchivedAt: new Date('2026-12-03T10:00:00Z'), failedCount: 0, lastFailedWal: null, lastFailedAt: null,
      serverNow: new Date('2026-12-03T10:00:42Z'), unarchivedBytes: 120,
    };
    expect(currentRpoMs(s)).toBe(42_000);
    expect(currentRpoMs({ ...s, unarchivedBytes: 0 })).toBe(0);
    expect(currentRpoMs({ ...s, lastArchivedAt: null })).toBeNull();
  });

  it('maps pgbackrest info JSON per repository', () => {
    const json = JSON.stringify([{
      name: 'main',
      backup: [{ label: '20261203-100000F', type: 'full', database: { id: 1, 'repo-key': 2 }, timestamp: { start: 1796292000, stop: 1796292010 }, info: { size: 100, delta: 100, repository: { size: 40, delta: 40 } }, archive: { start: '000000010000000000000002', stop: '000000010000000000000003' }, prior: null, error: false }],
      archive: [{ database: { id: 1, 'repo-key': 2 }, min: '000000010000000000000001', max: '000000010000000000000009' }],
      repo: [{ key: 1, cipher: 'none', status: { code: 99, message: 'other' } }, { key: 2, cipher: 'aes-256-cbc', status: { code: 0, message: 'ok' } }],
      status: { lock: { backup: { held: false } } },
    }]);
    const info = parseInfo(json, 'main');
    expect(info.backups).toEqual([expect.objectContaining({ label: '20261203-100000F', type: 'full', repo: 2, sizeBytes: 100, repoBytes: 40, walStart: '000000010000000000000002', stoppedAt: new Date(1796292010_000) })]);
    expect(info.repos.map((r) => [r.repo, r.code, r.walMax])).toEqual([[1, 99, null], [2, 0, '000000010000000000000009']]);
    expect(parseInfo(json, 'other').backups).toEqual([]);
  });
});
