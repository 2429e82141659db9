/**
 * The console's mrkdwn renderer (the same file the page loads), against what Slack's client
 * shows for the markup Firebreak's templates produce.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { formatSlackDate, mrkdwn, plainText, setDirectory } from '../../src/console/static/mrkdwn.js';

beforeAll(() => {
  process.env.TZ = 'UTC';
  const data = createRequire(import.meta.url)('emoji-datasource/emoji.json') as Array<{ unified: string; short_names: string[] }>;
  const emoji: Record<string, string> = {};
  for (const e of data) for (const n of e.short_names) emoji[n] = String.fromCodePoint(...e.unified.split('-').map((h) => parseInt(h, 16)));
  setDirectory({
    users: [{ id: 'U0ALICE', name: 'alice', realName: 'Alice Adams' }],
    channels: [{ id: 'C0OPS', name: 'ops' }],
    groups: [{ id: 'S0ONCALL', handle: 'oncall' }],
    emoji,
    now: () => new Date('2026-12-03T10:00:00Z'),
  });
});

/** Text as a reader sees it: tags dropped, the page's own escapes read back. */
const seen = (html: string) => html.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

describe('mrkdwn in the console', () => {
  it('decodes Slack entities exactly once', () => {
    expect(seen(mrkdwn('restore &lt;database&gt; &amp; verify'))).toBe('restore <database> & verify');
    expect(seen(mrkdwn('literal &amp;lt; stays'))).toBe('literal &lt; stays');
    // And what it outputs is still safe HTML.
    expect(mrkdwn('&lt;script&gt;alert(1)&lt;/script&gt;')).not.toContain('<script');
    expect(mrkdwn('<script>')).not.toContain('<script');
  });

  it('shows user, group and channel mentions as names, channel mentions as links that switch channel', () => {
    const h = mrkdwn('requested by <@U0ALICE> in <#C0OPS> for <!subteam^S0ONCALL>, <!here>');
    expect(seen(h)).toBe('requested by @alice in #ops for @oncall, @here');
    expect(h).toContain('data-channel-link="C0OPS"');
    expect(seen(mrkdwn('<#C0NEW|inc-1-db> and <@U0NOBODY>'))).toBe('#inc-1-db and @U0NOBODY');
  });

  it("renders date tokens in the reader's time zone with Slack's formats, and falls back when malformed", () => {
    const ts = Date.parse('2026-12-03T14:05:00Z') / 1000;
    expect(seen(mrkdwn(`expires <!date^${ts}^{date_short_pretty} {time}|2026-12-03 14:05 UTC>`))).toBe('expires today 2:05 PM');
    expect(formatSlackDate(ts, '{date_num} {time_secs}')).toBe('2026-12-03 2:05:00 PM');
    expect(formatSlackDate(ts - 86_400, '{date_pretty}')).toBe('yesterday');
    expect(formatSlackDate(ts + 30 * 86_400, '{date_short_pretty}')).toBe('Jan 2, 2027');
    expect(formatSlackDate(ts + 30 * 86_400, '{date_long}')).toBe('Saturday, January 2nd, 2027');
    expect(formatSlackDate(Date.parse('2026-12-03T09:00:00Z') / 1000, '{ago}')).toBe('1 hour ago');
    expect(seen(mrkdwn('<!date^notanumber^{date}|the fallback>'))).toBe('the fallback');
  });

  it('turns emoji shortcodes into emoji from Slack\'s table, and leaves unknown names alone', () => {
    expect(seen(mrkdwn(':mega: :rotating_light: :white_check_mark: :+1::skin-tone-3:'))).toBe('📣 🚨 ✅ 👍🏼');
    expect(seen(mrkdwn('at 14:05:09 and :no_such_emoji:'))).toBe('at 14:05:09 and :no_such_emoji:');
    expect(plainText(':mega: Declare')).toBe('📣 Declare');
    expect(plainText(':mega:', false)).toBe(':mega:');
  });

  it('makes links clickable, only for http(s) and mailto', () => {
    expect(mrkdwn('<https://grafana.example/d/1?a=1&amp;b=2|dashboard>')).toContain('href="https://grafana.example/d/1?a=1&amp;b=2"');
    expect(seen(mrkdwn('<https://grafana.example|dashboard>'))).toBe('dashboard');
    expect(mrkdwn('see https://example.com/x_y_z.')).toContain('<a href="https://example.com/x_y_z"');
    expect(mrkdwn('<javascript:alert(1)|click>')).not.toContain('href');
  });

  it('formats bold, italic, strike, code, code blocks and quotes, and nothing inside code', () => {
    expect(mrkdwn('*Status:* _investigating_ ~old~')).toBe('<b>Status:</b> <i>investigating</i> <s>old</s>');
    expect(mrkdwn('run `pg_dump *all*` now')).toBe('run <code>pg_dump *all*</code> now');
    expect(mrkdwn('```\nSELECT 1;\n```')).toBe('<pre>SELECT 1;\n</pre>');
    // A quote is a block: the line break after it is its end.
    expect(mrkdwn('&gt; quoted line\nafter')).toBe('<blockquote>quoted line</blockquote>after');
    expect(mrkdwn('snake_case_name and 2*3*4')).toBe('snake_case_name and 2*3*4');
    expect(seen(mrkdwn('*requested by <@U0ALICE>*'))).toBe('requested by @alice');
  });
});
