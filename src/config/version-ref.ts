/**
 * Which stored configuration version a replica runs: the row id and the content hash
 * (src/configversions keeps the rows; src/app/app.ts switches to one with FirebreakApp.reload).
 */
export interface ConfigVersionRef {
  id: number;
  hash: string;
}

/** What FirebreakApp.reload did. */
export type ReloadOutcome =
  | { status: 'switched'; from?: ConfigVersionRef; to: ConfigVersionRef }
  /** The same hash is already running: nothing was rebuilt. */
  | { status: 'unchanged' }
  /** Settings that only a restart can change differ (src/config/env-only.ts): nothing changed. */
  | { status: 'refused'; envOnly: string[]; message: string }
  /** Building or starting the new generation threw: the old one keeps running. */
  | { status: 'failed'; error: string };
