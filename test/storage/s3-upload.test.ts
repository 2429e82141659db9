import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { createTestBucket, s3Endpoint, testS3Client } from '../support/s3.js';
import { useTestS3Credentials } from '../support/backups.js';
import { S3ObjectStore, partSizeFor } from '../../src/storage/s3.js';
import { StorageError } from '../../src/storage/index.js';
import { storageConfigSchema } from '../../src/backups/config.js';

const MiB = 1024 * 1024;

/** `data` in chunks of odd sizes, as a pipe delivers them; `fail` ends it with an error instead. */
function chunks(data: Buffer, fail?: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= data.length) return void (fail ? this.destroy(fail) : this.push(null));
      const n = Math.min(data.length - sent, 40_000 + (sent % 30_000));
      this.push(data.subarray(sent, sent + n));
      sent += n;
    },
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('part size from the expected size', () => {
  it('is 5 MiB up to ~24 GiB, then grows so twice the estimate fits in 10,000 parts', () => {
    expect(partSizeFor(0)).toBe(5 * MiB);
    expect(partSizeFor(1024 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(10 * 1024 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(25_000 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(100 * 1024 * MiB)).toBe(21 * MiB);
    // 2 TiB: 420 MiB parts; 10,000 of them hold 4.1 TiB.
    expect(partSizeFor(2 * 1024 * 1024 * MiB)).toBe(420 * MiB);
    expect(partSizeFor(1e15)).toBe(5120 * MiB);
  });

  it('takes a configured size as a floor, and 64 MiB without any estimate', () => {
    expect(partSizeFor(1024 * MiB, 16)).toBe(16 * MiB);
    expect(partSizeFor(100 * 1024 * MiB, 8)).toBe(21 * MiB);
    expect(partSizeFor(undefined)).toBe(64 * MiB);
  });
});

describe('S3 streamed upload', () => {
  let bucket: string;
  const client = testS3Client();
  const store = (o: Record<string, unknown> = {}) =>
    new S3ObjectStore({ ...storageConfigSchema.parse({ endpoint: s3Endpoint(), forcePathStyle: true, ...o }), bucket });
  const read = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());

  beforeAll(async () => {
    useTestS3Credentials();
    bucket = await createTestBucket('fb-upload');
  });

  it('cuts a stream into 5 MiB parts and stores it byte for byte', async () => {
    const data = randomBytes(12 * MiB + 12345);
    await store().upload('big.bin', chunks(data), { expectedBytes: 12 * MiB });
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
    expect(head.ContentLength).toBe(12 * MiB + 12345);
    // A multipart object's ETag ends with its part count: 5 + 5 + 2 MiB.
    expect(head.ETag).toMatch(/-3"$/);
    expect(sha(await read('big.bin'))).toBe(sha(data));
  });

  it('sends what fits in one part as a single PutObject, even with two parts in flight', async () => {
    const data = randomBytes(3 * MiB);
    await store({ queueSize: 2 }).upload('small.bin', chunks(data), { expectedBytes: 3 * MiB });
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small.bin' }));
    expect(head.ETag).not.toMatch(/-\d+"$/);
    expect(sha(await read('small.bin'))).toBe(sha(data));
  });

  it('a body failing mid-upload fails the upload and aborts it: no object, no parts left behind', async () => {
    const err = await store().upload('broken.bin', chunks(randomBytes(11 * MiB), new Error('pg_dump died')), { expectedBytes: 20 * MiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toMatch(/pg_dump died/);
    expect(await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'broken.bin' })).catch(() => 'missing')).toBe('missing');
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'broken.bin' }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('an abort signal stops the upload and aborts it', async () => {
    const stop = new AbortController();
    const data = randomBytes(40 * MiB);
    let sent = 0;
    const body = chunks(data).on('data', (b: Buffer) => {
      sent += b.length;
      if (sent > 7 * MiB) stop.abort(new Error('shutting down'));
    });
    const err = await store().upload('stopped.bin', body, { signal: stop.signal, expectedBytes: 40 * MiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toMatch(/shutting down/);
    // It stopped reading soon after the abort, not at the end of the body.
    expect(sent).toBeLessThan(20 * MiB);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'stopped.bin' }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });
});
