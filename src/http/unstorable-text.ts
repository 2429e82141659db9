/*
 * Text PostgreSQL or JSON cannot hold, found in any external body (a webhook, a Slack request)
 * before it is stored: stored late, it would fail a shared write as a 5xx the sender retries forever.
 */

/** PostgreSQL's text refuses NUL; JSON/UTF-8 encoders refuse (or mangle) lone surrogates. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL text cannot store';
  // A high surrogate not followed by a low one, or a low one not preceded by a high one.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) return 'contains a lone UTF-16 surrogate, which is not valid Unicode text';
  return undefined;
}

export const pathOf = (base: string, key: string | number): string =>
  typeof key === 'number' ? `${base}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? (base ? `${base}.${key}` : key) : `${base}[${JSON.stringify(key)}]`;

/** The first string (value or key) anywhere in a parsed JSON body that cannot be stored. */
export function findUnstorableText(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') {
    const p = textProblem(value);
    return p ? `${path || 'body'}: ${p}` : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = findUnstorableText(value[i], pathOf(path, i));
      if (r) return r;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const kp = textProblem(k);
      if (kp) return `${path || 'body'}: a key ${kp}`;
      const r = findUnstorableText(v, pathOf(path, k));
      if (r) return r;
    }
  }
  return undefined;
}

