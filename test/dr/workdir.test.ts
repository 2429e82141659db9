/**
 * Two drills with the same run id (two Firebreak installations, or two test runs, on one host:
 * run ids are per state database) share the default work directory. One finishing and cleaning
 * up must not delete the files of the other while it runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Drill, type DrillDeps, type DrillPlan } from '../../src/dr/drill.js';
import { configSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { adminUrl } from '../support/db.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'fb-dr-shared-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const source: DrillDeps['source'] = {
  getBackup: async () => undefined,
  latestVerifiedBackup: async () => undefined, // step 2 fails: nothing to restore, which is fine here
  fetchArchive: async () => {},
  restore: async () => {},
  rowCounts: async () => ({}),
};
const deps: DrillDeps = {
  config: configSchema.parse({}).dr,
  clock: systemClock,
  log: createLogger({ level: 'silent' }),
  statePool: { query: async () => ({ rows: [] }) } as unknown as DrillDeps['statePool'],
  source,
};
const plan: DrillPlan = { runId: 1, kind: 'dry-run', serverUrl: adminUrl(), workDir, targets: { rtoMs: 3_600_000, rpoMs: 86_400_000, stretchRtoMs: 3_600_000, stretchRpoMs: 86_400_000 } };

describe('the drill work directory', () => {
  it('is the run\'s own: another drill with the same run id finishing does not pull it away mid-run', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding = false;
    // Drill A pauses in pre-flight (its directory made, not yet checked for free space) while
    // drill B runs to the end. Progress reports do not hold a drill up, so A waits on its first query.
    const statePool = { query: async () => { holding = true; await held; return { rows: [] }; } } as unknown as DrillDeps['statePool'];
    const a = new Drill({ ...deps, statePool }, plan, new AbortController().signal, async () => {});
    const first = a.run();
    while (!holding) await new Promise((r) => setTimeout(r, 10));
    const b = await new Drill(deps, plan, new AbortController().signal, async () => {}).run();
    expect(b.steps[0]!.status).toBe('passed');
    release();
    const outcome = await first;
    expect(outcome.steps[0], outcome.error).toMatchObject({ status: 'passed' });
  }, 60_000);
});
