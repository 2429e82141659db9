/**
 * A streamed S3 multipart upload in bounded, constant memory.
 *
 * Why not @aws-sdk/lib-storage's Upload: it cuts a streamed body into parts with a fresh
 * `Buffer.concat` per part, and a part buffer lives for the whole part upload, long enough for
 * V8 to move it to the old generation, whose buffers are only freed by a full GC; and with one
 * part in flight it stops reading the stream while that part uploads. In one measurement (1 GiB
 * database, 5 MiB parts, moto) the backup's peak RSS rose 84 MiB above idle through it against
 * 48 MiB for the same pipeline to a local file. Here the parts are cut into a fixed set of `queueSize + 1` buffers, allocated
 * once and reused: `queueSize` parts upload while the next one fills, and memory holds exactly
 * that many parts whatever the object's size.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand,
  type CompletedPart, type PutObjectCommandInput, type S3Client,
} from '@aws-sdk/client-s3';

/** S3 numbers parts 1 to 10,000. */
export const MAX_PARTS = 10_000;

export interface StreamUploadOptions {
  /** Bytes per part (all but the last); at least 5 MiB for S3. */
  partSize: number;
  /** Parts uploading at once while the next one fills (1 or 2 keep memory lowest). */
  queueSize: number;
  signal?: AbortSignal;
}

type Params = Pick<PutObjectCommandInput, 'Bucket' | 'Key' | 'ContentType' | 'ServerSideEncryption' | 'SSEKMSKeyId'> & { Bucket: string; Key: string };

/**
 * Uploads `body` to `params.Key`: one PutObject when it fits in one part, else a multipart
 * upload that is aborted on any failure (no invisible, billed parts stay behind). The object
 * appears only when CompleteMultipartUpload succeeds.
 */
export async function uploadStream(client: S3Client, params: Params, body: AsyncIterable<Buffer>, opts: StreamUploadOptions): Promise<void> {
  const { partSize, queueSize } = opts;
  const stop = new AbortController();
  const onAbort = () => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const abortable = () => ({ abortSignal: stop.signal });

  const spare: Buffer[] = [];
  const take = () => spare.pop() ?? Buffer.allocUnsafeSlow(partSize);
  let current = take();
  let filled = 0;
  let uploadId: string | undefined;
  let parts = 0;
  const done: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;

  const createUpload = async () => {
    // When the SDK adds checksums to parts (WHEN_SUPPORTED, AWS itself), the upload must declare
    // the algorithm up front or completing it is refused; the SDK computes CRC32 by default.
    const checksums = await client.config.requestChecksumCalculation();
    const r = await client.send(new CreateMultipartUploadCommand({ ...params, ...(checksums === 'WHEN_SUPPORTED' ? { ChecksumAlgorithm: 'CRC32' } : {}) }), abortable());
    if (!r.UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
    return r.UploadId;
  };
  /** Sends `buf[0, len)` as the next part once a slot is free; the buffer comes back when it is sent. */
  const sendPart = async (buf: Buffer, len: number) => {
    while (inFlight.size >= queueSize) await Promise.race(inFlight);
    if (failure) throw failure.err;
    const n = ++parts;
    if (n > MAX_PARTS) {
      throw new Error(`the object needs more than ${MAX_PARTS} parts of ${partSize} bytes (it outgrew its size estimate): raise backups.storage.partSizeMiB`);
    }
    const id = uploadId!;
    const sent = client.send(new UploadPartCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: id, PartNumber: n, Body: buf.subarray(0, len), ContentLength: len }), abortable())
      .then((r) => {
        if (!r.ETag) throw new Error(`part ${n} was answered without an ETag`);
        // The checksums the SDK sent (when the server supports them) must be repeated on completion.
        done.push({
          PartNumber: n, ETag: r.ETag,
          ...(r.ChecksumCRC32 && { ChecksumCRC32: r.ChecksumCRC32 }), ...(r.ChecksumCRC32C && { ChecksumCRC32C: r.ChecksumCRC32C }),
          ...(r.ChecksumCRC64NVME && { ChecksumCRC64NVME: r.ChecksumCRC64NVME }), ...(r.ChecksumSHA1 && { ChecksumSHA1: r.ChecksumSHA1 }),
          ...(r.ChecksumSHA256 && { ChecksumSHA256: r.ChecksumSHA256 }),
        });
        spare.push(buf);
      })
      .catch((err: unknown) => {
        failure ??= { err };
        stop.abort(err);
      })
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
  };

  try {
    for await (const chunk of body) {
      for (let off = 0; off < chunk.length;) {
        const n = Math.min(chunk.length - off, partSize - filled);
        chunk.copy(current, filled, off, off + n);
        filled += n;
        off += n;
        if (stop.signal.aborted) throw stop.signal.reason;
        if (filled < partSize) continue;
        uploadId ??= await createUpload();
        await sendPart(current, filled);
        current = take();
        filled = 0;
      }
      if (failure) throw failure.err;
    }
    if (!uploadId) {
      await client.send(new PutObjectCommand({ ...params, Body: current.subarray(0, filled), ContentLength: filled }), abortable());
      return;
    }
    if (filled > 0) await sendPart(current, filled);
    await Promise.all(inFlight);
    if (failure) throw failure.err;
    done.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(new CompleteMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId, MultipartUpload: { Parts: done } }), abortable());
    uploadId = undefined;
  } catch (err) {
    stop.abort(err);
    await Promise.allSettled(inFlight);
    throw (opts.signal?.aborted ? opts.signal.reason : err) as Error;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    // Still set: the upload did not complete. Abort it so its parts are not kept (and billed).
    if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId })).catch(() => {});
  }
}
