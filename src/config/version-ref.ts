/** Which stored configuration version a replica runs (src/configversions): its id and content hash. */
export interface ConfigVersionRef { id: number; hash: string }

/** What `app.reload(config, version)` did. */
export type ReloadOutcome =
  | { status: 'switched'; from?: ConfigVersionRef; to: ConfigVersionRef }
  | { status: 'unchanged' }                                             // same hash already running
  | { status: 'refused'; envOnly: string[]; message: string }           // env-only keys differ
  | { status: 'failed'; error: string };                                // building the new generation threw: old one keeps running
