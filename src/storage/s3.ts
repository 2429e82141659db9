import {
  S3Client, GetObjectCommand, PutObjectCommand, HeadObjectCommand, DeleteObjectCommand, ListObjectsV2Command,
  ListMultipartUploadsCommand, AbortMultipartUploadCommand, HeadBucketCommand, type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { StorageConfig } from '../backups/config.js';
import { StorageError, type IncompleteUpload, type ObjectStore, type StoredObject } from './object-store.js';

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

  async upload(key: string, body: Readable, opts: { signal?: AbortSignal; contentType?: string } = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: opts.contentType ?? 'application/octet-stream', ...this.sse },
      partSize: this.cfg.partSizeMiB * 1024 * 1024,
      queueSize: this.cfg.queueSize,
      // Abort the multipart upload on failure so no invisible, billed parts remain.
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => {});
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // A failing body stream must fail the upload even when lib-storage is waiting on a part.
    const bodyFailed = new Promise<never>((_, reject) => body.once('error', reject));
    try {
      await Promise.race([upload.done(), bodyFailed]);
    } catch (err) {
      await upload.abort().catch(() => {});
      throw new StorageError('upload', `s3://${this.bucket}/${key}`, err);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
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
