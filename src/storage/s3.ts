import {
  S3Client, GetObjectCommand, PutObjectCommand, HeadObjectCommand, DeleteObjectCommand, ListObjectsV2Command,
  ListMultipartUploadsCommand, AbortMultipartUploadCommand, HeadBucketCommand, type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { StorageConfig } from '../backups/config.js';
import { MAX_PARTS, uploadStream } from './multipart.js';
import { StorageError, type IncompleteUpload, type ObjectStore, type StoredObject, type UploadOptions } from './object-store.js';

const MiB = 1024 * 1024;
/** S3's part limits: at least 5 MiB (but the last), at most 5 GiB; the 10,000-part limit is MAX_PARTS. */
const MIN_PART = 5 * MiB;
const MAX_PART = 5120 * MiB;

/**
 * The part size of an upload expected to be about `expectedBytes`: the smallest whole number
 * of MiB, at least 5 MiB (and at least `floorMiB` when configured), that fits twice the
 * expectation in 10,000 parts. Memory holds a few parts at a time, so the smallest size S3
 * allows is the leanest; the factor 2 leaves room for an estimate that was low (a database is
 * its own estimate: its dump carries no indexes or free space and is then compressed, but
 * pg_dump writes TOAST-compressed values out in full). 5 MiB parts serve databases up to about
 * 24 GiB; a 100 GiB one gets 21 MiB parts. Without an expectation, 64 MiB parts (objects up to
 * ~625 GiB).
 */
export function partSizeFor(expectedBytes: number | undefined, floorMiB?: number): number {
  const floor = Math.max(MIN_PART, (floorMiB ?? 0) * MiB);
  const wanted = expectedBytes === undefined ? 64 * MiB : Math.ceil((2 * expectedBytes) / MAX_PARTS / MiB) * MiB;
  return Math.min(MAX_PART, Math.max(floor, wanted));
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * S3 and S3-compatible servers. Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, profiles, instance roles), never from config.
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly client: S3Client;
  private bucket: string;
  private sse: { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string };

  constructor(
    private cfg: StorageConfig & { bucket: string },
    client?: S3Client,
  ) {
    this.bucket = cfg.bucket;
    this.location = `s3://${cfg.bucket}${cfg.endpoint ? ` at ${cfg.endpoint}` : ''}`;
    const checksums = cfg.checksums ?? (cfg.endpoint ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED');
    this.client =
      client ??
      new S3Client({
        region: cfg.region,
        endpoint: cfg.endpoint,
        forcePathStyle: cfg.forcePathStyle,
        requestChecksumCalculation: checksums,
        responseChecksumValidation: checksums,
      });
    this.sse = cfg.sse ? { ServerSideEncryption: cfg.sse as ServerSideEncryption, ...(cfg.kmsKeyId ? { SSEKMSKeyId: cfg.kmsKeyId } : {}) } : {};
  }

  async upload(key: string, body: Readable, opts: UploadOptions = {}): Promise<void> {
    const params = { Bucket: this.bucket, Key: key, ContentType: opts.contentType ?? 'application/octet-stream', ...this.sse };
    try {
      await uploadStream(this.client, params, body, { partSize: partSizeFor(opts.expectedBytes, this.cfg.partSizeMiB), queueSize: this.cfg.queueSize, signal: opts.signal });
    } catch (err) {
      throw new StorageError('upload', `s3://${this.bucket}/${key}`, err);
    }
  }

  async putSmall(key: string, body: Buffer | string, contentType = 'application/json'): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ...this.sse }));
    } catch (err) {
      throw new StorageError('put', `s3://${this.bucket}/${key}`, err);
    }
  }

  async getSmall(key: string): Promise<Buffer | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new StorageError('get', `s3://${this.bucket}/${key}`, err);
    }
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: opts.signal });
      return r.Body as Readable;
    } catch (err) {
      throw new StorageError('download', `s3://${this.bucket}/${key}`, err);
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new StorageError('head', `s3://${this.bucket}/${key}`, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw new StorageError('delete', `s3://${this.bucket}/${key}`, err);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) yield { key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    const out: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const r = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const u of r.Uploads ?? []) out.push({ key: u.Key!, uploadId: u.UploadId!, initiated: u.Initiated ?? new Date(0) });
      keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      uploadIdMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return out;
  }

  async abortIncompleteUpload(u: IncompleteUpload): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.key, UploadId: u.uploadId }));
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }
}
