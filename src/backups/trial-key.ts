import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { formatRecipient, generateIdentity, parseIdentity } from './age.js';

/** What the ops channel and the log say when backups run on a generated key. */
export const TRIAL_KEY_NOTICE = 'trial key: anyone with this file can read these backups; configure your own before real use';

export const TRIAL_KEY_FILE = 'backup-trial.key';

export interface TrialKey {
  file: string;
  recipient: string;
  /** True on the start that generated it (the one that tells people). */
  created: boolean;
}

/**
 * The console's zero-setup backups: with no key configured, an age identity generated once
 * under `<dataDir>/backup-trial.key` (mode 0600, age-keygen's file format) encrypts backups to
 * the local store under `<dataDir>/backups`, so `/backup now` and `/dr dry-run` work on a
 * fresh clone. Only the console gets this: in Slack mode a missing key is a configuration
 * error people must fix, because a key beside the backups protects nothing.
 *
 * Returns the config to run with and the key, or the config unchanged when any of key or
 * bucket is configured (a partial backup configuration stays the operator's to finish).
 */
export function withTrialBackupKey(config: Config, opts: { create?: boolean } = {}): { config: Config; trial?: TrialKey } {
  const enc = config.backups.encryption;
  if (enc.recipient || enc.identity || config.backups.storage.bucket) return { config };
  const dir = path.resolve(config.dataDir);
  const file = path.join(dir, TRIAL_KEY_FILE);
  let created = false;
  if (!existsSync(file)) {
    if (opts.create === false) return { config };
    mkdirSync(dir, { recursive: true });
    const k = generateIdentity();
    const text = `# Firebreak ${TRIAL_KEY_NOTICE}\n# created: ${new Date().toISOString()}\n# public key: ${k.recipient}\n${k.identity}\n`;
    // 'wx': two starts racing on a fresh clone must not each write (and split) a key.
    try {
      writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const identity = readFileSync(file, 'utf8');
  const recipient = formatRecipient({ publicKey: parseIdentity(identity).publicKey });
  return {
    config: { ...config, backups: { ...config.backups, encryption: { ...enc, recipient, identity } } },
    trial: { file, recipient, created },
  };
}
