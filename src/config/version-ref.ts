/** A stored configuration version: its id in config_versions and the hash of its content. */
export interface ConfigVersionRef {
  id: number;
  hash: string;
}

/** What `FirebreakApp.reload` did with a new configuration. */
export type ReloadOutcome =
  | { status: 'switched'; from?: ConfigVersionRef; to: ConfigVersionRef }
  | { status: 'unchanged' } // same hash already running
  | { status: 'refused'; envOnly: string[]; message: string } // env-only keys differ
  | { status: 'failed'; error: string }; // building the new generation threw: old one keeps running
