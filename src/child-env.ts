/**
 * The environment a child program (pg_dump, pg_restore, psql, zstd, the DR post-restore hook)
 * runs with: what it needs to find binaries, home, locale and time zone, and libpq's own PG*
 * settings, never the rest of Firebreak's environment. Slack tokens, PagerDuty keys and
 * webhook secrets would otherwise be readable in /proc/<pid>/environ of every child and be
 * inherited by anything a hook starts.
 */
const PASS_THROUGH = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR']);

const passes = (name: string): boolean => PASS_THROUGH.has(name) || name.startsWith('LC_') || /^PG[A-Z_]+$/.test(name);

export function childEnv(extra: Record<string, string | undefined> = {}, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined && passes(k)) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}
