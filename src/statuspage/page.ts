/**
 * The public status page as HTML (no JavaScript), JSON and Atom. Pure functions over the
 * approved model: every string is escaped on the way out, links are built from the public
 * base URL (which may carry a sub-path behind a reverse proxy), and nothing internal (the
 * incident number, people, channels) is in the model to begin with.
 */
import { createHash } from 'node:crypto';
import { STATE_LABEL, durationText, type PublicIncident, type PublicStatusPage, type PublicUpdate } from './model.js';

/** Escapes text for HTML element content and double-quoted attributes, and for XML. */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** `https://example.com/ops` + `/status` without a doubled or lost slash. */
export const publicLink = (base: string, path: string): string => `${base.replace(/\/+$/, '')}${path}`;

const STATUS_LABEL: Record<PublicUpdate['status'], string> = {
  investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved',
};

const CSS = `
:root{color-scheme:light dark;--ok:#1a7f37;--deg:#9a6700;--part:#bc4c00;--maj:#cf222e;--mnt:#0969da}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:46rem;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin:1rem 0 .25rem}
.banner{border-radius:.5rem;padding:.75rem 1rem;font-weight:600;color:#fff}
ul{list-style:none;padding:0;margin:0}li.c{display:flex;justify-content:space-between;gap:1rem;padding:.5rem 0;border-bottom:1px solid #8884}
.d{font-size:.85rem;opacity:.8}.s{white-space:nowrap;font-weight:600}
.operational{color:var(--ok)}.degraded{color:var(--deg)}.partial_outage{color:var(--part)}.major_outage{color:var(--maj)}.maintenance{color:var(--mnt)}
.banner.operational{background:var(--ok);color:#fff}.banner.degraded{background:var(--deg);color:#fff}.banner.partial_outage{background:var(--part);color:#fff}
.banner.major_outage{background:var(--maj);color:#fff}.banner.maintenance{background:var(--mnt);color:#fff}
article{border-top:1px solid #8884;padding:.5rem 0}p.u{margin:.25rem 0 .75rem;white-space:pre-wrap;overflow-wrap:anywhere}
time,.meta{font-size:.85rem;opacity:.8}a{color:inherit}footer{margin-top:2rem;font-size:.85rem;opacity:.8}
`.trim();

/**
 * Headers every public status route sends: short public caching, no sniffing, and a CSP that
 * allows nothing but this page's one inline stylesheet (by hash): no script can ever run.
 */
export function publicHeaders(contentType: string, maxAgeSeconds: number): Record<string, string> {
  const styleHash = createHash('sha256').update(CSS).digest('base64');
  return {
    'content-type': contentType,
    'cache-control': `public, max-age=${maxAgeSeconds}, must-revalidate`,
    'x-content-type-options': 'nosniff',
    'content-security-policy': `default-src 'none'; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}

const iso = (d: Date) => d.toISOString();
const human = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function durationOf(i: PublicIncident, now: Date): string {
  return i.resolvedAt ? `lasted ${durationText(i.createdAt, i.resolvedAt)}` : `ongoing for ${durationText(i.createdAt, now)}`;
}

function incidentHtml(i: PublicIncident, base: string, now: Date, headingLink: boolean): string {
  const title = escapeHtml(i.title);
  const heading = headingLink ? `<a href="${escapeHtml(publicLink(base, `/status/incidents/${i.id}`))}">${title}</a>` : title;
  const updates = [...i.updates].reverse().map((u) =>
    `<div><strong>${STATUS_LABEL[u.status]}</strong> · <time datetime="${iso(u.publishedAt)}">${human(u.publishedAt)}</time><p class="u">${escapeHtml(u.body)}</p></div>`).join('');
  return `<article id="incident-${i.id}"><h3>${heading}</h3><div class="meta">${STATUS_LABEL[i.status]} · started <time datetime="${iso(i.createdAt)}">${human(i.createdAt)}</time> · ${durationOf(i, now)}</div>${updates}</article>`;
}

function shell(title: string, body: string, base: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><link rel="alternate" type="application/atom+xml" href="${escapeHtml(publicLink(base, '/status/feed.atom'))}">` +
    `<style>${CSS}</style></head><body>${body}<footer><a href="${escapeHtml(publicLink(base, '/status'))}">Status</a> · ` +
    `<a href="${escapeHtml(publicLink(base, '/status.json'))}">JSON</a> · <a href="${escapeHtml(publicLink(base, '/status/feed.atom'))}">Atom feed</a></footer></body></html>`;
}

export function statusHtml(p: PublicStatusPage, base: string): string {
  const groups = new Map<string, typeof p.components>();
  for (const c of p.components) {
    const g = c.group ?? '';
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  const components = [...groups.entries()].map(([g, list]) =>
    (g ? `<h3>${escapeHtml(g)}</h3>` : '') + `<ul>${list.map((c) =>
      `<li class="c" data-component="${escapeHtml(c.id)}"><span>${escapeHtml(c.name)}${c.description ? `<br><span class="d">${escapeHtml(c.description)}</span>` : ''}</span>` +
      `<span class="s ${c.state}">${STATE_LABEL[c.state]}</span></li>`).join('')}</ul>`).join('');
  const active = p.incidents.filter((i) => !i.resolvedAt);
  const past = p.incidents.filter((i) => i.resolvedAt);
  const banner = p.overall === 'operational' && active.length === 0 ? 'All systems operational' : STATE_LABEL[p.overall] === 'Operational' ? 'Some systems are affected' : STATE_LABEL[p.overall];
  const body =
    `<header><h1>${escapeHtml(p.title)}</h1><div class="banner ${p.overall}" role="status">${escapeHtml(banner)}</div></header>` +
    (active.length ? `<section><h2>Current incidents</h2>${active.map((i) => incidentHtml(i, base, p.generatedAt, true)).join('')}</section>` : '') +
    (p.components.length ? `<section><h2>Components</h2>${components}</section>` : '') +
    `<section><h2>Past incidents (90 days)</h2>${past.length ? past.map((i) => incidentHtml(i, base, p.generatedAt, true)).join('') : '<p>No incidents reported.</p>'}</section>` +
    `<p class="meta">Updated <time datetime="${iso(p.generatedAt)}">${human(p.generatedAt)}</time></p>`;
  return shell(p.title, body, base);
}

export function incidentPageHtml(title: string, i: PublicIncident, base: string, now: Date): string {
  return shell(`${i.title} · ${title}`, `<header><p><a href="${escapeHtml(publicLink(base, '/status'))}">← ${escapeHtml(title)}</a></p><h1>${escapeHtml(i.title)}</h1></header>${incidentHtml(i, base, now, false)}`, base);
}

function incidentJson(i: PublicIncident, base: string, now: Date): Record<string, unknown> {
  return {
    id: i.id,
    title: i.title,
    status: i.status,
    url: publicLink(base, `/status/incidents/${i.id}`),
    createdAt: iso(i.createdAt),
    updatedAt: iso(i.updatedAt),
    resolvedAt: i.resolvedAt ? iso(i.resolvedAt) : null,
    durationMinutes: Math.round(((i.resolvedAt ?? now).getTime() - i.createdAt.getTime()) / 60_000),
    updates: [...i.updates].reverse().map((u) => ({ id: u.id, status: u.status, body: u.body, components: u.components, publishedAt: iso(u.publishedAt) })),
  };
}

/** The documented shape of GET /status.json (README "Status page"). */
export function statusJson(p: PublicStatusPage, base: string): Record<string, unknown> {
  return {
    page: { title: p.title, url: publicLink(base, '/status'), updatedAt: iso(p.generatedAt) },
    status: p.overall,
    components: p.components.map((c) => ({ id: c.id, name: c.name, group: c.group, description: c.description, status: c.state, updatedAt: c.updatedAt ? iso(c.updatedAt) : null })),
    incidents: p.incidents.map((i) => incidentJson(i, base, p.generatedAt)),
  };
}

export function incidentJsonDoc(i: PublicIncident, base: string, now: Date): Record<string, unknown> {
  return incidentJson(i, base, now);
}

/** Atom 1.0 (RFC 4287): one entry per public incident, its content the updates as text. */
export function statusAtom(p: PublicStatusPage, base: string): string {
  const feedUrl = publicLink(base, '/status/feed.atom');
  const updated = p.incidents.reduce((m, i) => (i.updatedAt > m ? i.updatedAt : m), new Date(0));
  const entries = p.incidents.map((i) => {
    const url = publicLink(base, `/status/incidents/${i.id}`);
    const text = [...i.updates].reverse().map((u) => `${STATUS_LABEL[u.status]} (${human(u.publishedAt)}): ${u.body}`).join('\n\n');
    return `<entry><id>${escapeHtml(url)}</id><title type="text">${escapeHtml(`${STATUS_LABEL[i.status]}: ${i.title}`)}</title>` +
      `<link rel="alternate" type="text/html" href="${escapeHtml(url)}"/><published>${iso(i.createdAt)}</published><updated>${iso(i.updatedAt)}</updated>` +
      `<content type="text">${escapeHtml(text)}</content></entry>`;
  }).join('');
  return `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><id>${escapeHtml(feedUrl)}</id><title type="text">${escapeHtml(p.title)}</title>` +
    `<updated>${iso(p.incidents.length ? updated : p.generatedAt)}</updated><author><name>${escapeHtml(p.title)}</name></author>` +
    `<link rel="self" type="application/atom+xml" href="${escapeHtml(feedUrl)}"/><link rel="alternate" type="text/html" href="${escapeHtml(publicLink(base, '/status'))}"/>${entries}</feed>`;
}
