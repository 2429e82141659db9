import path from 'node:path';
import type { StorageConfig } from '../backups/config.js';
import { LocalObjectStore } from './local.js';
import { S3ObjectStore } from './s3.js';
import type { ObjectStore } from './object-store.js';

export type { ObjectStore, StoredObject, IncompleteUpload } from './object-store.js';
export { StorageError } from './object-store.js';
export { LocalObjectStore } from './local.js';
export { S3ObjectStore } from './s3.js';

/** S3 when a bucket is configured, otherwise a local directory (default `<dataDir>/backups`). */
export function createObjectStore(cfg: StorageConfig, dataDir: string): ObjectStore {
  if (cfg.bucket) return new S3ObjectStore({ ...cfg, bucket: cfg.bucket });
  return new LocalObjectStore(cfg.localDir ?? path.join(dataDir, 'backups'));
}
