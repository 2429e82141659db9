// Slack's mrkdwn to safe HTML, as Slack's client shows it. Plain ES module with no DOM use, so
// the page imports it and the tests run it in Node.
//
// Slack text arrives with &, < and > written as &amp; &lt; &gt;, and `<...>` as the only markup
// for mentions, links and dates. So: cut the `<...>` tokens out first, decode the three
// entities exactly once, escape for HTML, apply *bold* _italic_ ~strike~ `code` ```blocks```
// and > quotes, then put the rendered tokens back.

const dir = {
  users: new Map(), // id -> { name, realName }
  channels: new Map(), // id -> { name }
  groups: new Map(), // id -> handle
  emoji: {}, // shortcode -> character (Slack's table, served as /console/emoji.json)
  now: () => new Date(),
};

/** What names and emoji are known: the page updates it as users, channels and the table load. */
export function setDirectory({ users, channels, groups, emoji, now } = {}) {
  if (users) dir.users = new Map(users.map((u) => [u.id, u]));
  if (channels) dir.channels = new Map(channels.map((c) => [c.id, c]));
  if (groups) dir.groups = new Map(groups.map((g) => [g.id, g.handle]));
  if (emoji) dir.emoji = emoji;
  if (now) dir.now = now;
}

export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Slack's three entities, decoded once: `&amp;lt;` is the text `&lt;`, never `<`. */
export function decodeEntities(s) {
  return String(s ?? '').replace(/&(lt|gt|amp);/g, (_, e) => ({ lt: '<', gt: '>', amp: '&' }[e]));
}

/** `:name:` to its emoji where Slack's table knows the name; skin tones follow their emoji. */
export function emojify(html) {
  return html.replace(/:([a-z0-9_+'-]+):(?::skin-tone-([2-6]):)?/g, (m, name, tone) => {
    const e = dir.emoji[name];
    if (!e) return m;
    const skin = tone ? dir.emoji[`skin-tone-${tone}`] ?? '' : '';
    return e + skin;
  });
}

/** Plain text as Slack shows it: no markup, emoji shortcodes when `emoji` is on (the default). */
export function plainText(text, emoji = true) {
  const h = escapeHtml(text);
  return emoji ? emojify(h) : h;
}

const ordinal = (n) => {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
};

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/**
 * `<!date^ts^format^link|fallback>` in the reader's own time zone, with Slack's tokens:
 * {date_num} {date} {date_short} {date_long} {date_pretty} {date_short_pretty}
 * {date_long_pretty} {time} {time_secs} {ago}.
 */
export function formatSlackDate(epochSeconds, format, now = dir.now()) {
  const d = new Date(epochSeconds * 1000);
  if (Number.isNaN(d.getTime())) return null;
  const month = (style) => d.toLocaleString('en-US', { month: style });
  const date = `${month('long')} ${ordinal(d.getDate())}, ${d.getFullYear()}`;
  const dateShort = `${month('short')} ${d.getDate()}, ${d.getFullYear()}`;
  const dateLong = `${d.toLocaleString('en-US', { weekday: 'long' })}, ${date}`;
  const pretty = (fallback) => {
    const day = 86_400_000;
    if (sameDay(d, now)) return 'today';
    if (sameDay(d, new Date(now.getTime() - day))) return 'yesterday';
    if (sameDay(d, new Date(now.getTime() + day))) return 'tomorrow';
    return fallback;
  };
  const ago = () => {
    const s = Math.round((now.getTime() - d.getTime()) / 1000);
    const abs = Math.abs(s);
    const [n, unit] = abs < 60 ? [abs, 'second'] : abs < 3600 ? [Math.round(abs / 60), 'minute'] : abs < 86_400 ? [Math.round(abs / 3600), 'hour'] : [Math.round(abs / 86_400), 'day'];
    const phrase = `${n} ${unit}${n === 1 ? '' : 's'}`;
    return s >= 0 ? `${phrase} ago` : `in ${phrase}`;
  };
  const pad = (n) => String(n).padStart(2, '0');
  const tokens = {
    date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date, date_short: dateShort, date_long: dateLong,
    date_pretty: () => pretty(date), date_short_pretty: () => pretty(dateShort), date_long_pretty: () => pretty(dateLong),
    time: d.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' }),
    time_secs: d.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', second: '2-digit' }),
    ago,
  };
  return format.replace(/\{([a-z_]+)\}/g, (m, t) => {
    const v = tokens[t];
    return v === undefined ? m : typeof v === 'function' ? v() : v;
  });
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

function link(url, label) {
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${label}</a>`;
}

/** One `<...>` token (inside already cut out, entities still encoded) to HTML. */
function token(inner) {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? undefined : decodeEntities(inner.slice(bar + 1));
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const u = dir.users.get(id);
    const name = u ? u.name : label ?? id;
    return `<a href="#" class="mention user" data-user-id="${escapeHtml(id)}" title="${escapeHtml(u?.realName ?? name)}">@${escapeHtml(name)}</a>`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = dir.channels.get(id)?.name ?? label ?? id;
    return `<a href="#" class="mention channel" data-channel-link="${escapeHtml(id)}">#${escapeHtml(name)}</a>`;
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    const handle = dir.groups.get(id);
    const shown = handle ? `@${handle}` : label ?? `@${id}`;
    return `<span class="mention group">${escapeHtml(shown)}</span>`;
  }
  if (target.startsWith('!date^')) {
    const [, ts, format, url] = target.split('^');
    const text = formatSlackDate(Number(ts), decodeEntities(format ?? ''));
    if (text === null) return escapeHtml(label ?? '');
    const iso = new Date(Number(ts) * 1000).toISOString();
    const shown = `<time datetime="${iso}" title="${escapeHtml(new Date(Number(ts) * 1000).toString())}">${escapeHtml(text)}</time>`;
    return url && SAFE_URL.test(url) ? link(decodeEntities(url), shown) : shown;
  }
  if (target.startsWith('!')) {
    const word = target.slice(1);
    return `<span class="mention broadcast">@${escapeHtml(label ?? word)}</span>`;
  }
  const url = decodeEntities(target);
  if (SAFE_URL.test(url)) return link(url, emojify(escapeHtml(label ?? url)));
  // Not markup Slack knows: show what a person would see, the label or the text itself.
  return escapeHtml(label ?? url);
}

/** Slack's bold/italic/strike: the marker sits at a word boundary, never inside a word. */
function inline(h) {
  const around = (m) => new RegExp(`(^|[\\s(>\\[{"'“‘.,;:!?-])\\${m}(?=\\S)([^${m}\\n]*?\\S)\\${m}(?=$|[\\s)<\\]}"'”’.,;:!?-])`, 'g');
  h = h.replace(around('*'), '$1<b>$2</b>');
  h = h.replace(around('_'), '$1<i>$2</i>');
  h = h.replace(around('~'), '$1<s>$2</s>');
  return h;
}

/** Slack mrkdwn to safe HTML. */
export function mrkdwn(text) {
  const held = [];
  const hold = (html) => `\uE000${held.push(html) - 1}\uE001`;
  // 1. Slack's `<...>` tokens (mentions, links, dates) out first, rendered on their own.
  let s = String(text ?? '').replace(/<([^<>\n]+)>/g, (_, inner) => hold(token(inner)));
  // 2. Entities decoded once, then everything escaped for HTML.
  s = escapeHtml(decodeEntities(s));
  // 3. Code is literal: no formatting or emoji inside it.
  s = s.replace(/```\n?([\s\S]*?)```/g, (_, code) => hold(`<pre>${code}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  // 4. Bare URLs are links, as Slack makes them.
  s = s.replace(/\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g, (url) => hold(link(decodeEntities(url), url)));
  s = emojify(inline(s));
  // 5. Quotes: lines starting with `>`.
  s = s.replace(/(^|\n)((?:&gt; ?[^\n]*(?:\n|$))+)/g, (_, lead, block) => {
    const body = block.replace(/\n$/, '').split('\n').map((l) => l.replace(/^&gt; ?/, '')).join('\n');
    return `${lead}<blockquote>${body}</blockquote>`;
  });
  // Held pieces may hold others (a link label with a date): restore until none are left.
  for (let i = 0; i < 3 && s.includes('\uE000'); i++) s = s.replace(/\uE000(\d+)\uE001/g, (_, n) => held[Number(n)]);
  return s;
}
