import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';

/**
 * Counts (and optionally hashes) the bytes passing through, readable while the stream runs so
 * progress reports can show them.
 */
export class Meter extends Transform {
  bytes = 0;
  private hash: Hash | undefined;
  private digestHex: string | undefined;

  constructor(opts: { sha256?: boolean } = {}) {
    super({ highWaterMark: 1 << 16 });
    if (opts.sha256) this.hash = createHash('sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    cb(null, chunk);
  }

  /** The SHA-256 of everything seen; call once the stream has ended. */
  sha256(): string {
    if (!this.hash) throw new Error('this meter does not hash');
    return (this.digestHex ??= this.hash.digest('hex'));
  }
}

/**
 * Writes into a child's stdin, and keeps accepting (discarding) data after the child closes
 * it: `pg_restore --list` stops reading once it has the table of contents, but the rest of
 * the stream must still be read so every encrypted chunk is authenticated.
 */
export function sinkIntoStdin(stdin: NodeJS.WritableStream & { destroyed?: boolean }): Writable {
  let closed = false;
  let waiting: (() => void) | undefined;
  const release = () => {
    closed = true;
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  stdin.on('error', release);
  stdin.on('close', release);
  return new Writable({
    highWaterMark: 1 << 16,
    write(chunk: Buffer, _enc, cb) {
      if (closed) return cb();
      if (stdin.write(chunk)) return cb();
      waiting = cb;
      stdin.once('drain', () => {
        const w = waiting;
        waiting = undefined;
        w?.();
      });
    },
    final(cb) {
      if (!closed) stdin.end();
      cb();
    },
  });
}

/** Swallows a stream (used to read an object only for its checksum). */
export function discard(): Writable {
  return new Writable({ highWaterMark: 1 << 16, write: (_c, _e, cb) => cb() });
}

/**
 * Writes every chunk to each target and takes the next one only when all of them have
 * accepted it (backpressure from the slowest). An error on a target fails the tee.
 */
export function tee(...targets: (NodeJS.WritableStream & Writable)[]): Writable {
  const t = new Writable({
    highWaterMark: 1 << 16,
    write(chunk: Buffer, _enc, cb) {
      const waits = targets.filter((w) => !w.write(chunk)).map((w) => new Promise<void>((r) => w.once('drain', r)));
      if (!waits.length) return cb();
      Promise.all(waits).then(() => cb(), cb);
    },
    final(cb) {
      for (const w of targets) w.end();
      cb();
    },
  });
  for (const w of targets) w.on('error', (err) => t.destroy(err));
  return t;
}
