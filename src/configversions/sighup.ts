/**
 * SIGHUP: read the FIREBREAK_CONFIG file again; a valid one becomes the active version at once
 * (source sighup, audited) and every replica switches (NOTIFY); an invalid one changes nothing
 * and its problems are logged. src/app/main.ts calls this from its signal handler.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { Applied, VersionMeta } from './service.js';

export interface Appliable {
  apply(text: string, meta: VersionMeta): Promise<Applied>;
}

export type SighupOutcome = Applied | { status: 'unreadable'; problem: string };

export async function reloadFromFile(versions: Appliable, env: Record<string, string | undefined>, log: Logger): Promise<SighupOutcome> {
  const file = env.FIREBREAK_CONFIG;
  let text = '';
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const problem = `cannot read ${file}: ${(e as Error).message}`;
      log.error({ file }, `SIGHUP: ${problem}; the configuration did not change`);
      return { status: 'unreadable', problem };
    }
  }
  const out = await versions.apply(text, { author: 'sighup', source: 'sighup', ...(env.FIREBREAK_CONFIG_COMMIT ? { commit: env.FIREBREAK_CONFIG_COMMIT } : {}) });
  switch (out.status) {
    case 'invalid':
      log.error({ file, problems: out.problems }, `SIGHUP: the configuration file is invalid; nothing changed:\n${out.problems.map((p) => `  - ${p}`).join('\n')}`);
      break;
    case 'env-only':
      log.error({ file, keys: out.keys }, `SIGHUP: ${out.message}`);
      break;
    case 'refused':
      log.error({ file }, `SIGHUP: ${out.message}`);
      break;
    case 'unchanged':
      log.info({ file, version: out.version.id }, 'SIGHUP: the file is the running version; nothing to change');
      break;
    case 'switched':
      log.info({ file, version: out.version.id }, `SIGHUP: configuration version #${out.version.id} is active; every replica switches to it`);
      break;
  }
  return out;
}
