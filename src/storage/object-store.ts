import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

/** A multipart upload that was started and never completed or aborted. */
export interface IncompleteUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface UploadOptions {
  signal?: AbortSignal;
  contentType?: string;
  /**
   * About how many bytes the body will have, when the caller can tell (a backup: its database's
   * size). S3 sizes its parts from it: small parts keep memory low, but there can be at most
   * 10,000 of them.
   */
  expectedBytes?: number;
}

/**
 * Where backups live: S3 (or an S3-compatible server) or a local directory. Streams only, so
 * a backup of any size passes through bounded memory. Keys use `/` separators.
 */
export interface ObjectStore {
  /** Human description for messages: `s3://bucket/prefix` or a directory. */
  readonly location: string;
  /**
   * Streams `body` to `key`. The object becomes visible only when the whole stream arrived;
   * on error or abort nothing is left behind (S3 multipart uploads are aborted).
   */
  upload(key: string, body: Readable, opts?: UploadOptions): Promise<void>;
  putSmall(key: string, body: Buffer | string, contentType?: string): Promise<void>;
  getSmall(key: string): Promise<Buffer | undefined>;
  get(key: string, opts?: { signal?: AbortSignal }): Promise<Readable>;
  head(key: string): Promise<StoredObject | undefined>;
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<StoredObject>;
  listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]>;
  abortIncompleteUpload(upload: IncompleteUpload): Promise<void>;
  /** Throws when the store is unreachable or not writable (readiness). */
  ping(): Promise<void>;
}

/** A storage failure with the step and object named, for messages a tired on-call can act on. */
export class StorageError extends Error {
  constructor(
    readonly operation: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`${operation} ${key} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StorageError';
  }
}
