import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';

/** The loopback S3 server started by test/setup/global.ts (moto). */
export function s3Endpoint(): string {
  return inject('s3Endpoint');
}

export const TEST_S3_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export function testS3Client(): S3Client {
  return new S3Client({
    endpoint: s3Endpoint(),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A new, empty bucket for one test file. */
export async function createTestBucket(prefix = 'fb-test'): Promise<string> {
  const bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
  await testS3Client().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}
