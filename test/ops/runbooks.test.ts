import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { loadRunbooks, parseRunbook, RUNBOOK_SECTIONS } from '../../src/runbooks/runbook.js';

const SHIPPED = ['backup-failed', 'backup-stale', 'database-unreachable', 'dr-drill-failed', 'pagerduty-unreachable', 'slack-unreachable'];
const dir = mkdtempSync(path.join(tmpdir(), 'fb-runbooks-'));
const complete = (title: string) =>
  `# ${title}\n\n` + RUNBOOK_SECTIONS.map((s, i) => `## ${i + 1}. ${s}\n${s === 'Severity' ? 'P2 by default.' : `What to do for ${s}.`}\n`).join('\n');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'runbooks', ...args], { encoding: 'utf8', env: { ...process.env, FIREBREAK_CONFIG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let t: TestApp;
beforeAll(async () => {
  writeFileSync(path.join(dir, 'cache-flush.md'), complete('Flush the cache'));
  // Missing Verification and Escalation, Severity with no level.
  writeFileSync(
    path.join(dir, 'half-done.md'),
    complete('Half done').replace(/## 7\. Verification\n[^\n]*\n/, '').replace(/## 9\. Escalation\n[^\n]*\n/, '').replace('P2 by default.', 'Depends.'),
  );
  t = await startTestApp({ config: { ops: { runbooksDir: dir } }, seedChannels: [] });
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the shipped runbooks', () => {
  it('cover Firebreak\'s own failure modes, each with the ten sections', async () => {
    const all = await loadRunbooks('runbooks');
    expect(all.map((r) => r.name)).toEqual(SHIPPED);
    for (const r of all) {
      expect({ name: r.name, missing: r.missing, problems: r.problems }).toEqual({ name: r.name, missing: [], problems: [] });
      expect(r.sections.map((s) => s.section)).toEqual([...RUNBOOK_SECTIONS]);
    }
  });

  it('`firebreak runbooks check` passes them (exit 0)', () => {
    const r = cli('check', 'runbooks');
    expect(r.code).toBe(0);
    expect(r.out).toContain('6 runbooks, all with the ten sections');
  });
});

describe('firebreak runbooks check', () => {
  it('names the runbook and each missing section, and exits 1', () => {
    const r = cli('check', dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ok\s+cache-flush/);
    const line = r.out.split('\n').find((l) => l.includes('half-done'))!;
    expect(line).toMatch(/^FAIL/);
    expect(line).toContain('missing sections: Verification, Escalation');
    expect(line).toContain('section Severity names no level P0-P4');
    expect(r.out).toContain('1 of 2 runbooks do not meet the standard');
  });

  it('reads the directory from ops.runbooksDir in the config file when none is given', () => {
    const cfg = path.join(dir, 'firebreak.yml');
    writeFileSync(cfg, `ops:\n  runbooksDir: ${dir}\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'runbooks', 'check'], { encoding: 'utf8', env: { ...process.env, FIREBREAK_CONFIG: cfg } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('half-done');
  });

  it('explains a missing directory instead of crashing', () => {
    const r = cli('check', path.join(dir, 'nope'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot read the runbooks directory');
    expect(r.err).toContain('ENOENT');
  });

  it('parses numbered, renamed and fenced headings correctly', () => {
    const md = complete('X').replace('## 10. Post-Incident', '## 10) Post incident review') + '\n```\n## Overview\n```\n';
    const r = parseRunbook(md, '/x/my-book.md');
    expect(r.missing).toEqual([]);
    expect(r.problems).toEqual([]);
    expect(r.sections.filter((s) => s.section === 'Overview')).toHaveLength(1);
  });
});

describe('/runbook in chat', () => {
  it('/runbook list lists every runbook with a link and flags the incomplete one', async () => {
    const { responseId } = await t.slash('/runbook list');
    await t.settle();
    const body = JSON.stringify(t.slack.responses.filter((r) => r.url === `/response/${responseId}`).map((r) => r.body));
    expect(body).toContain('cache-flush');
    expect(body).toContain(`${t.app.ctx.publicUrl}/runbooks/half-done`);
    expect(body).toMatch(/half-done[^"]*incomplete/);
  });

  it('/runbook <name> shows the runbook, /runbook <name> <section> one section', async () => {
    const whole = await t.slash('/runbook cache-flush');
    const one = await t.slash('/runbook cache-flush mitigation');
    await t.settle();
    const bodyOf = (id: string) => JSON.stringify(t.slack.responses.filter((r) => r.url === `/response/${id}`).map((r) => r.body));
    expect(bodyOf(whole.responseId)).toContain('What to do for Investigation');
    expect(bodyOf(whole.responseId)).toContain('What to do for Post-Incident');
    expect(bodyOf(one.responseId)).toContain('What to do for Mitigation');
    expect(bodyOf(one.responseId)).not.toContain('What to do for Investigation');
  });

  it('answers an unknown or hostile name kindly and suggests near names', async () => {
    const a = await t.slash('/runbook cache');
    const b = await t.slash('/runbook ../../etc/passwd');
    await t.settle();
    expect(t.slack.replies(a.responseId)[0]).toContain('Did you mean `cache-flush`');
    expect(t.slack.replies(b.responseId)[0]).toContain('There is no runbook called');
  });

  it('GET /runbooks/<name> serves the Markdown the links point at', async () => {
    const res = await fetch(`${t.url}/runbooks/cache-flush`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/markdown');
    expect(await res.text()).toBe(readFileSync(path.join(dir, 'cache-flush.md'), 'utf8'));
    expect((await fetch(`${t.url}/runbooks/..%2Fsecret`)).status).toBe(404);
  });
});
