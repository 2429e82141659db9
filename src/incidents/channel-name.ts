/** Slack channel names: lowercase a-z 0-9 - _, at most 80 characters. */
export const MAX_CHANNEL_NAME = 80;

export function slugify(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
}

/**
 * Renders the channel name template ({date} yyyymmdd, {slug}, {id}, {severity}) and makes
 * it legal. Leaves room for a collision suffix such as `-12`.
 */
export function channelNameFor(template: string, i: { id: number; title: string; severity: string; declaredAt: Date }): string {
  const date = i.declaredAt.toISOString().slice(0, 10).replace(/-/g, '');
  const raw = template
    .replace('{date}', date)
    .replace('{id}', String(i.id))
    .replace('{severity}', i.severity.toLowerCase())
    .replace('{slug}', slugify(i.title) || 'incident');
  const name = slugify(raw).slice(0, MAX_CHANNEL_NAME - 4).replace(/[-_]+$/g, '');
  return name || `inc-${i.id}`;
}

/** The n-th candidate after a name is taken: base, base-2, base-3, ... */
export function withSuffix(base: string, n: number): string {
  return n <= 1 ? base : `${base.slice(0, MAX_CHANNEL_NAME - String(n).length - 1)}-${n}`;
}
