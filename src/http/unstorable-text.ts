/*
 * Text PostgreSQL or JSON cannot hold, found in any external body (a webhook, a Slack request)
 * before it is stored: stored late, it would fail a shared write as a 5xx the sender retries forever.
 */

// String.prototype.isWellFormed (V8 11.3, Node 20) is not in the ES2022 lib this project compiles against.
const wellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/** PostgreSQL's text refuses NUL; JSON/UTF-8 encoders refuse (or mangle) lone surrogates. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL text cannot store';
  // A high surrogate not followed by a low one, or a low one not preceded by a high one. Every
  // string of every webhook passes here: the native check is several times cheaper than a regex.
  if (!wellFormed.call(s)) return 'contains a lone UTF-16 surrogate, which is not valid Unicode text';
  return undefined;
}

export const pathOf = (base: string, key: string | number): string =>
  typeof key === 'number' ? `${base}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? (base ? `${base}.${key}` : key) : `${base}[${JSON.stringify(key)}]`;

/** The first string (value or key) anywhere in a parsed JSON body that cannot be stored. */
export function findUnstorableText(value: unknown, path = ''): string | undefined {
  // The walk keeps the keys it went through and spells the path only for the string it names:
  // building a path for every value cost more than checking the values.
  const keys: (string | number)[] = [];
  const at = () => keys.reduce<string>((p, k) => pathOf(p, k), path) || 'body';
  const walk = (v: unknown): string | undefined => {
    if (typeof v === 'string') {
      const p = textProblem(v);
      return p ? `${at()}: ${p}` : undefined;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        keys.push(i);
        const r = walk(v[i]);
        keys.pop();
        if (r) return r;
      }
      return undefined;
    }
    if (v && typeof v === 'object') {
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        const kp = textProblem(k);
        if (kp) return `${at()}: a key ${kp}`;
        keys.push(k);
        const r = walk((v as Record<string, unknown>)[k]);
        keys.pop();
        if (r) return r;
      }
    }
    return undefined;
  };
  return walk(value);
}

