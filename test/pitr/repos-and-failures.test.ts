/**
 * Two repositories: every backup and every WAL segment reaches both, so a drill from repository 2
 * passes after repository 1's files are deleted. A pgBackRest backup killed with -9 midway is
 * recorded as failed, is never listed as a backup, and the next backup succeeds.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveNow, startCluster, type TestCluster } from './cluster.js';
import { Pitr, setupStanza } from '../../src/pitr/flows.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';

let c: TestCluster;
let db: TestDatabase;
let pitr: Pitr;

beforeAll(async () => {
  db = await createTestDatabase('fb_pitr_two');
  c = await startCluster({ stanza: 'two', repos: 2, extra: { countTables: ['items'] } });
  await c.query('CREATE TABLE items (n int, pad text)');
  pitr = new Pitr({ config: c.config, pool: db.pool, clock: systemClock, log: createLogger({ level: 'silent' }), opsChannel: 'ops', shutdownSignal: new AbortController().signal, rtoTargetMs: 3_600_000 });
  await setupStanza(c.config, pitr.pgbr);
}, 120_000);
afterAll(async () => {
  c?.destroy();
  await db?.drop();
});

/** pgbackrest processes this test process started (its direct children), running `backup`. */
function ownBackupChildren(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (ppid === process.pid && cmd[0] === 'pgbackrest' && cmd.includes('backup') && cmd.includes('--stanza=two')) out.push(Number(d));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

describe('two repositories and failures', () => {
  it('a backup killed with -9 midway records no good backup, and the next one succeeds', async () => {
    // Enough data that the copy takes a moment after pgBackRest announces it.
    await c.query(`INSERT INTO items SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 300000) g`);
    let killed = 0;
    const out = await pitr.backup('full', {
      requestedBy: 'U0ALICE',
      onProgress: (text) => {
        if (killed || !/copying files/.test(text)) return;
        for (const pid of ownBackupChildren()) {
          process.kill(pid, 'SIGKILL');
          killed++;
        }
      },
    });
    if ('busy' in out) throw new Error('busy');
    expect(killed).toBe(1);
    expect(out.run.status).toBe('failed');
    expect(out.run.error).toMatch(/killed by SIGKILL/);
    expect(out.made).toEqual([]);
    expect(await pitr.list()).toEqual([]);
    const failed = (await db.pool.query(`SELECT type FROM events WHERE type = 'backup.physical.failed'`)).rowCount;
    expect(failed).toBe(1);

    const again = await pitr.backup('full', { requestedBy: 'U0ALICE' });
    if ('busy' in again) throw new Error('busy');
    expect(again.run.status).toBe('succeeded');
    expect(again.made.map((b) => [b.type, b.repo])).toEqual([['full', 1], ['full', 2]]);
  }, 300_000);

  it('after repository 1 is deleted, a drill from repository 2 still restores the latest rows', async () => {
    await c.query('INSERT INTO items SELECT g, NULL FROM generate_series(1, 10) g');
    await archiveNow(c);
    const status = await pitr.status();
    expect(status.repos.map((r) => [r.repo, r.code, r.newest?.type])).toEqual([[1, 0, 'full'], [2, 0, 'full']]);
    expect(status.repos[0]!.walMax).toBe(status.repos[1]!.walMax);

    const repo1 = c.config.repos[0]!;
    if (!('path' in repo1)) throw new Error('directory repo expected');
    for (const f of readdirSync(repo1.path)) rmSync(path.join(repo1.path, f), { recursive: true, force: true });

    expect(await pitr.checkTarget({ kind: 'latest' }, 1)).toMatch(/no backup|repository 1/);
    const r = await pitr.drill({ kind: 'latest' }, { repo: 2, requestedBy: 'U0ALICE' });
    expect(r.run.error).toBeNull();
    expect(r.report!.rowCounts).toEqual({ items: 300_010 });

    // The watch names repository 1 as unreachable, once.
    const alerted = await pitr.watch();
    expect(alerted).toContain('pitr-repo-unreachable:two:repo1');
    expect(await pitr.watch()).toEqual([]);
  }, 300_000);
});
