/**
 * Firebreak as a real OS process for the ops tests: `node --import tsx <entry>` with its own
 * environment, its JSON log lines collected, and helpers to wait for a log line, probe HTTP,
 * send signals and wait for the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface LogLine {
  level: number;
  msg: string;
  action?: string;
  [k: string]: unknown;
}

export interface FirebreakProcess {
  proc: ChildProcess;
  /** Every line written to stdout and stderr, raw. */
  output: string[];
  /** stdout lines that parsed as JSON (pino). */
  logs: LogLine[];
  port: number;
  url: string;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (or the signal name when killed by one). */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

export async function startFirebreak(env: Record<string, string>, opts: { entry?: string; startTimeoutMs?: number } = {}): Promise<FirebreakProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', opts.entry ?? 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const logs: LogLine[] = [];
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  const onLine = (line: string, json: boolean) => {
    output.push(line);
    if (!json) return;
    let l: LogLine;
    try {
      l = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    logs.push(l);
    for (const w of waiters) if (w.pred(l)) {
      waiters.delete(w);
      w.resolve(l);
    }
  };
  const lines = (stream: NodeJS.ReadableStream, json: boolean) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i), json);
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => buf && onLine(buf, json));
  };
  lines(proc.stdout!, true);
  lines(proc.stderr!, false);
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => {
      // An unexpected exit explains itself in the test output.
      if (code !== 0 && signal !== 'SIGKILL') console.error(`firebreak process exited with ${code ?? signal}; last output:\n${output.slice(-40).join('\n')}`);
      resolve(code ?? signal ?? -1);
    }),
  );

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 30_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const hit = logs.find(pred);
      if (hit) return resolve(hit);
      const w = { pred, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`no matching log line within ${timeoutMs} ms; output:\n${output.slice(-30).join('\n')}`));
      }, timeoutMs);
      waiters.add(w);
      void exited.then((code) => {
        if (!waiters.has(w)) return;
        waiters.delete(w);
        clearTimeout(timer);
        reject(new Error(`process exited (${code}) before the log line; output:\n${output.slice(-30).join('\n')}`));
      });
    });

  const started = await waitForLog((l) => typeof l.port === 'number' && l.port > 0, opts.startTimeoutMs ?? 60_000);
  const port = started.port as number;
  return { proc, output, logs, port, url: `http://127.0.0.1:${port}`, waitForLog, exited, kill: (s) => proc.kill(s) };
}

/**
 * `src/main.ts` as a child with only PATH, HOME and `env` in its environment (no LOG_LEVEL, no
 * PORT unless given: the program's own defaults), stdout and stderr collected as one text.
 * Resolves once stdout shows `ready`, bounded by the caller's hook timeout rather than a fixed
 * number of polls (under a full parallel suite the start alone can take more than 20 s); rejects
 * with the output when the process exits first.
 */
export async function spawnMain(env: Record<string, string>, ready: string): Promise<{ child: ChildProcess; output(): string }> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const look = () => (output.includes(ready) ? resolve() : undefined);
    child.stdout!.on('data', look);
    child.once('exit', () => reject(new Error(`main exited: ${output}`)));
  });
  return { child, output: () => output };
}

/** Stops a process still running at the end of a test (SIGKILL: tests never leave strays). */
export async function killIfRunning(p: FirebreakProcess | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.kill('SIGKILL');
  await p.exited;
}

/** Stops a child started by a test with SIGTERM (a clean stop) and waits for it to exit. */
export async function stopChild(child: { exitCode: number | null; kill(signal: NodeJS.Signals): boolean; once(event: 'exit', fn: () => void): unknown } | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * GET and parse JSON. A connection error is retried twice: fetch reuses keep-alive sockets, and
 * one the server closed at the same moment fails with ECONNRESET (a client race, not an answer).
 */
export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
