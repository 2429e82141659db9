/**
 * Configuration versions in two real Firebreak processes (`src/main.ts`, the local console, one
 * database): both start on the version recorded from their file; SIGHUP to one with a changed
 * file switches both without a restart; SIGHUP with an invalid file changes nothing and says why.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { killIfRunning, startFirebreak, type FirebreakProcess } from '../ops/support/process.js';

let db: TestDatabase;
const dir = mkdtempSync(path.join(tmpdir(), 'fb-cfg-proc-'));
const file = path.join(dir, 'firebreak.yml');
const running: FirebreakProcess[] = [];

const readyVersion = async (p: FirebreakProcess) => ((await (await fetch(`${p.url}/health/ready`)).json()) as { config: { version: number } | null }).config?.version;
const metricsVersion = async (p: FirebreakProcess) => {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  return /^firebreak_config_version_info\{version="(\d+)"/m.exec(text)?.[1];
};

beforeAll(async () => {
  db = await createTestDatabase();
  writeFileSync(file, 'approvals:\n  expiryMinutes: 30\n');
  for (const name of ['one', 'two']) {
    running.push(await startFirebreak({ DATABASE_URL: db.url, FIREBREAK_CONFIG: file, FIREBREAK_DATA_DIR: path.join(dir, name) }));
  }
}, 120_000);

afterAll(async () => {
  for (const p of running) await killIfRunning(p);
  await db?.drop();
});

describe('two Firebreak processes on one database', () => {
  it('start on the one version recorded from their file', async () => {
    await vi.waitFor(async () => {
      const v = await readyVersion(running[0]!);
      expect(v).toBeGreaterThan(0);
      expect(await readyVersion(running[1]!)).toBe(v);
    }, { timeout: 30_000, interval: 100 });
    const { rows } = await db.pool.query(`SELECT id, source FROM config_versions`);
    expect(rows).toEqual([{ id: expect.anything(), source: 'start' }]);
    expect(await metricsVersion(running[1]!)).toBe(String(rows[0].id));
  });

  it('SIGHUP with a changed file switches both; with an invalid file nothing changes and the log says why', async () => {
    const first = (await readyVersion(running[0]!))!;
    writeFileSync(file, 'approvals:\n  expiryMinutes: 45\n');
    running[0]!.kill('SIGHUP');
    await vi.waitFor(async () => {
      const v = await readyVersion(running[0]!);
      expect(v).toBeGreaterThan(first);
      expect(await readyVersion(running[1]!)).toBe(v);
    }, { timeout: 30_000, interval: 100 });
    const second = (await readyVersion(running[1]!))!;
    const row = (await db.pool.query(`SELECT source, status FROM config_versions WHERE id = $1`, [second])).rows[0];
    expect(row).toEqual({ source: 'sighup', status: 'active' });

    writeFileSync(file, 'approvals:\n  expiryMinutes: soon\n');
    running[1]!.kill('SIGHUP');
    const said = await running[1]!.waitForLog((l) => /SIGHUP: the configuration file is invalid/.test(l.msg));
    expect(said.msg).toMatch(/approvals\.expiryMinutes/);
    expect(await readyVersion(running[0]!)).toBe(second);
    expect(await readyVersion(running[1]!)).toBe(second);
    expect(Number((await db.pool.query(`SELECT count(*) AS n FROM config_versions`)).rows[0].n)).toBe(2);
  }, 60_000);
});
