/**
 * Point-in-time recovery with real pgBackRest and a real throwaway cluster: a full backup,
 * rows A, a time T, rows B; a drill to T has exactly A; a drill to latest has A and B. Then
 * incr and diff after the full, how `info` maps them, and expire with retention full=1.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveNow, startCluster, type TestCluster } from './cluster.js';
import { Pitr } from '../../src/pitr/flows.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { setupStanza } from '../../src/pitr/flows.js';

let c: TestCluster;
let db: TestDatabase;
let pitr: Pitr;

beforeAll(async () => {
  db = await createTestDatabase('fb_pitr_rec');
  c = await startCluster({ stanza: 'rec', extra: { countTables: ['a_rows', 'b_rows'], retention: { full: 1, diff: 1 } } });
  await c.query('CREATE TABLE a_rows (n int); CREATE TABLE b_rows (n int)');
  pitr = new Pitr({ config: c.config, pool: db.pool, clock: systemClock, log: createLogger({ level: 'silent' }), opsChannel: 'ops', shutdownSignal: new AbortController().signal, rtoTargetMs: 3_600_000 });
  const s = await setupStanza(c.config, pitr.pgbr);
  expect(s.check).toMatch(/check command end: completed successfully/);
}, 120_000);
afterAll(async () => {
  c?.destroy();
  await db?.drop();
});

describe('PITR through pgBackRest', () => {
  it('restores to a time with exactly the rows written before it, and to latest with all of them', async () => {
    const full = await pitr.backup('full', { requestedBy: 'U0ALICE' });
    if ('busy' in full) throw new Error('busy');
    expect(full.run.status).toBe('succeeded');
    expect(full.made.map((b) => [b.type, b.repo])).toEqual([['full', 1]]);

    // A recovery point must lie after a backup's stop time, which pgBackRest keeps in whole seconds.
    const stop = full.made[0]!.stoppedAt;
    while ((await c.query<{ ok: boolean }>('SELECT now() > $1::timestamptz + interval \'1 second\' AS ok', [stop]))[0]!.ok !== true) await c.query('SELECT pg_sleep(0.1)');
    await c.query('INSERT INTO a_rows SELECT generate_series(1, 100)');
    const t = (await c.query<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t;
    // The commit of B must be strictly after T on the server's clock.
    await c.query('SELECT pg_sleep(0.05)');
    await c.query('INSERT INTO b_rows SELECT generate_series(1, 50)');

    const toT = await pitr.drill({ kind: 'time', at: t }, { repo: 1, requestedBy: 'U0ALICE' });
    expect(toT.run.error).toBeNull();
    expect(toT.report!.rowCounts).toEqual({ a_rows: 100, b_rows: 0 });
    expect(toT.report!.achievedRpoMs).not.toBeNull();
    expect(toT.report!.achievedRpoMs!).toBeLessThan(5_000);
    expect(toT.report!.lastReplayedAt!.getTime()).toBeLessThanOrEqual(t.getTime());

    await archiveNow(c);
    const latest = await pitr.drill({ kind: 'latest' }, { repo: 1, requestedBy: 'U0ALICE' });
    expect(latest.run.status).toBe('succeeded');
    expect(latest.report!.rowCounts).toEqual({ a_rows: 100, b_rows: 50 });

    const events = (await db.pool.query(`SELECT type FROM events WHERE type LIKE 'dr.pitr.%' OR type LIKE 'backup.physical.%' ORDER BY id`)).rows.map((r) => r.type);
    expect(events).toEqual(['backup.physical.started', 'backup.physical.succeeded', 'backup.physical.expired', 'dr.pitr.started', 'dr.pitr.passed', 'dr.pitr.started', 'dr.pitr.passed']);
  }, 300_000);

  it('maps incr and diff after the full; expire keeps the only full and removes what a newer full supersedes', async () => {
    const incr = await pitr.backup('incr', { requestedBy: 'U0ALICE' });
    const diff = await pitr.backup('diff', { requestedBy: 'U0ALICE' });
    if ('busy' in incr || 'busy' in diff) throw new Error('busy');
    const list = await pitr.list();
    const fullLabel = list.find((b) => b.type === 'full')!.label;
    expect(list.map((b) => b.type)).toEqual(['diff', 'incr', 'full']);
    // Both depend on the full: an incr after a full and a diff after a full.
    expect(list[0]!.prior).toBe(fullLabel);
    expect(list[1]!.prior).toBe(fullLabel);
    expect(list[0]!.label.startsWith(fullLabel)).toBe(true);
    expect(list[0]!.walStart).toMatch(/^[0-9A-F]{24}$/);
    expect(list[0]!.repoBytes).toBeGreaterThan(0);

    // Expire with only one full: nothing full is removed.
    const e = await pitr.expire('U0ALICE');
    expect(e.removed.filter((k) => k.endsWith('F'))).toEqual([]);
    expect((await pitr.list()).some((b) => b.label === fullLabel)).toBe(true);

    const full2 = await pitr.backup('full', { requestedBy: 'U0ALICE' });
    if ('busy' in full2) throw new Error('busy');
    const after = await pitr.list();
    expect(after.map((b) => b.type)).toEqual(['full']);
    expect(after[0]!.label).not.toBe(fullLabel);

    // pgbackrest verify over the repository: the backup and its WAL check out.
    const v = await pitr.verify('U0ALICE');
    expect(v.lines).toEqual([expect.stringMatching(/^repo1: ok/)]);
    expect(v.ok).toBe(true);

    // A damaged file in the backup makes verify fail, although pgBackRest itself exits 0.
    const repo = c.config.repos[0]!;
    if (!('path' in repo)) throw new Error('directory repo expected');
    const dir = path.join(repo.path, 'backup', 'rec', after[0]!.label, 'pg_data', 'base');
    const victim = readdirSync(dir, { recursive: true, withFileTypes: true }).find((e) => e.isFile() && statSync(path.join(e.parentPath, e.name)).size > 4096)!;
    const file = path.join(victim.parentPath, victim.name);
    const bytes = readFileSync(file);
    bytes.write('garbage', 100);
    writeFileSync(file, bytes);
    const bad = await pitr.verify('U0ALICE');
    expect(bad.ok).toBe(false);
    expect(bad.lines[0]).toMatch(/^repo1: problems found: .*invalid/);
  }, 300_000);
});
