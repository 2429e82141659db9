/**
 * `npm start` stopped the way a terminal or a supervisor stops it: SIGTERM to its whole
 * process group (npm, Node and the embedded PostgreSQL's parent all get it, and npm forwards
 * its copy too). Firebreak drains once, exits 0, warns about nothing, and leaves no database
 * server behind.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start under SIGTERM to its process group', () => {
  it('exits 0 once the drain is done, with no warning, no forced exit and no database server left running', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'fb-npm-start-'));
    chmodSync(base, 0o755);
    dirs.push(base);
    const dataDir = path.join(base, '.data');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', FIREBREAK_DATA_DIR: dataDir,
    };
    // detached: npm leads a new process group, as it does when started from a shell.
    const npm = spawn('npm', ['start', '--silent'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    npm.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    npm.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => npm.on('exit', (code, signal) => r({ code, signal })));
    const running = new Promise<void>((resolve, reject) => {
      npm.stdout.on('data', () => stdout.includes('Firebreak is running with the local console') && resolve());
      void exited.then(() => reject(new Error(`npm start exited before it was running:\n${stdout}\n${stderr}`)));
    });
    await running;
    const { postmasterPid } = JSON.parse(readFileSync(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { postmasterPid: number };

    process.kill(-npm.pid!, 'SIGTERM');
    const { code, signal } = await exited;

    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(stdout).toContain('"action":"shutdown.done"');
    expect(stdout).not.toContain('shutdown.forced');
    // From the signal on, nothing is a warning or an error.
    expect(stdout.slice(stdout.indexOf('"action":"shutdown.begin"'))).not.toMatch(/"level":(40|50|60)/);
    expect(stderr).toBe('');
    expect(alive(postmasterPid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'embedded-postgres.json'))).toBe(false);
  }, 180_000);
});
