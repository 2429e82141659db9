// Prints the README's environment-variable table from src/config/env.ts, so the two never drift
// (test/readme.test.ts fails when they do).
import { ENV_BINDINGS } from '../src/config/env.js';

export function envTable(): string {
  const rows = ENV_BINDINGS.map((b) => `| \`${b.env}\` | ${b.secret ? 'yes (or `' + b.env + '_FILE`)' : ''} | ${b.doc.replace(/\|/g, '\\|')} |`);
  const file = '| `FIREBREAK_CONFIG` |  | Path of an optional YAML configuration file (every key in the sections above); environment variables win over it. |';
  const commit = '| `FIREBREAK_CONFIG_COMMIT` |  | Git commit of the `FIREBREAK_CONFIG` file, recorded with the configuration version made from it (at first start, SIGHUP, `config apply`/`propose` without `--commit`). |';
  return ['| Variable | Secret | Meaning |', '|---|---|---|', file, commit, ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(envTable() + '\n');
