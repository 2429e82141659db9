import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { StorageError, type IncompleteUpload, type ObjectStore, type StoredObject, type UploadOptions } from './object-store.js';

const PARTIAL = '.partial-';

/**
 * Objects as files under one directory (the console's default). Uploads go to a
 * `<name>.partial-<random>` file renamed into place when complete, so a crash leaves an
 * "incomplete upload" that retention cleans, never a half object under the real name.
 */
export class LocalObjectStore implements ObjectStore {
  readonly location: string;
  constructor(private root: string) {
    this.root = path.resolve(root);
    this.location = this.root;
  }

  private file(key: string): string {
    const p = path.resolve(this.root, key);
    if (!p.startsWith(this.root + path.sep)) throw new StorageError('resolve', key, new Error('key escapes the store directory'));
    return p;
  }

  async upload(key: string, body: Readable, opts: UploadOptions = {}): Promise<void> {
    const dest = this.file(key);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}${PARTIAL}${randomBytes(6).toString('hex')}`;
    try {
      // 1 MiB of buffer lets chunks queue while a write is in flight and go out together
      // (writev): with the default 16 KiB, every 64 KiB chunk cost a write of its own.
      await pipeline(body, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 }), { signal: opts.signal });
      await fs.rename(tmp, dest);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw new StorageError('upload', key, err);
    }
  }

  async putSmall(key: string, body: Buffer | string): Promise<void> {
    const dest = this.file(key);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}${PARTIAL}${randomBytes(6).toString('hex')}`;
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, dest);
  }

  async getSmall(key: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.file(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StorageError('read', key, err);
    }
  }

  async get(key: string): Promise<Readable> {
    const f = this.file(key);
    try {
      await fs.access(f);
    } catch (err) {
      throw new StorageError('download', key, err);
    }
    return createReadStream(f, { highWaterMark: 1 << 20 });
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const st = await fs.stat(this.file(key));
      return { key, size: st.size, lastModified: st.mtime };
    } catch {
      return undefined;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }

  private async *walk(dir: string): AsyncIterable<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) yield* this.walk(p);
      else yield p;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for await (const f of this.walk(this.root)) {
      const key = path.relative(this.root, f).split(path.sep).join('/');
      if (!key.startsWith(prefix) || key.includes(PARTIAL)) continue;
      const st = await fs.stat(f).catch(() => undefined);
      if (st) yield { key, size: st.size, lastModified: st.mtime };
    }
  }

  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    const out: IncompleteUpload[] = [];
    for await (const f of this.walk(this.root)) {
      const rel = path.relative(this.root, f).split(path.sep).join('/');
      const i = rel.indexOf(PARTIAL);
      if (i < 0 || !rel.startsWith(prefix)) continue;
      const st = await fs.stat(f).catch(() => undefined);
      if (st) out.push({ key: rel.slice(0, i), uploadId: rel.slice(i + PARTIAL.length), initiated: st.mtime });
    }
    return out;
  }

  async abortIncompleteUpload(u: IncompleteUpload): Promise<void> {
    await fs.rm(this.file(`${u.key}${PARTIAL}${u.uploadId}`), { force: true });
  }

  async ping(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    await fs.access(this.root, fs.constants.W_OK);
  }
}
