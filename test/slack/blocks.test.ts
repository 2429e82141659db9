/**
 * The Block Kit builders and the payload rules the fake Slack applies: shortened text never
 * splits a character or an entity and says what it left out; the rules catch what real Slack
 * refuses (so the suite-wide check can fail).
 */
import { describe, expect, it } from 'vitest';
import {
  button, clipMrkdwn, clipPlain, context, decodeSlackText, escapeMrkdwn, header, lineSections, link, messageBlocks, safeUrl, section, textSections, userMrkdwn,
} from '../../src/templates/blocks.js';
import { messageProblems, viewProblems } from '../../src/templates/block-kit-rules.js';
import { alertGroupMessage } from '../../src/templates/alerts.js';

const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('shortening', () => {
  it('cuts plain text between graphemes, never inside a surrogate pair or a ZWJ sequence', () => {
    const s = 'a' + '👩‍🚒'.repeat(100);
    for (let max = 2; max < 40; max++) {
      const out = clipPlain(s, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(LONE);
      expect(out.replace(/…$/, '').replace(/^a/, '').replace(/👩‍🚒/g, '')).toBe('');
    }
  });

  it('cuts mrkdwn outside entities and escapes, closes a code fence, and says how much is missing', () => {
    const s = `${'x'.repeat(95)}&amp;<@U0ALICE> <https://example.com/a|a link> ${'y'.repeat(200)}`;
    for (let max = 100; max < 200; max += 3) {
      const out = clipMrkdwn(s, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).toMatch(/more characters? not shown/);
      expect(messageProblems({ text: out })).toEqual([]);
    }
    const fenced = clipMrkdwn('```' + 'z'.repeat(5000) + '```', 3000);
    expect(fenced.match(/```/g)).toHaveLength(2);
  });

  it('splits long text over sections without losing a character', () => {
    const text = escapeMrkdwn(`${'line & more 🔥\n'.repeat(700)}`);
    const blocks = textSections(text, { maxBlocks: 10 });
    expect(blocks.length).toBeGreaterThan(1);
    expect(blocks.map((b) => b.text!.text).join('')).toBe(text);
    expect(messageProblems({ text: 'x', blocks })).toEqual([]);
  });

  it('lists keep an explicit "…and N more" when they outgrow their blocks', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `• item ${i} ${'w'.repeat(100)}`);
    const blocks = lineSections(lines, { maxBlocks: 3, more: (n) => `_…and ${n} more items_` });
    expect(blocks).toHaveLength(3);
    const shown = blocks.map((b) => b.text!.text).join('\n');
    const listed = shown.match(/• item \d+/g)!.length;
    expect(shown).toContain(`_…and ${400 - listed} more items_`);
    expect(messageProblems({ text: 'x', blocks })).toEqual([]);
  });

  it('a message over 50 blocks keeps 49 and counts the rest', () => {
    const blocks = messageBlocks(Array.from({ length: 70 }, (_, i) => section(`s${i}`)));
    expect(blocks).toHaveLength(50);
    expect(JSON.stringify(blocks.at(-1))).toContain('21 more blocks');
  });
});

describe('escaping', () => {
  it('decodes what Slack escaped once, and escapes once on the way out', () => {
    const typed = 'Tom &amp; Jerry &lt;b&gt; &amp;amp;';
    const plain = decodeSlackText(typed);
    expect(plain).toBe('Tom & Jerry <b> &amp;');
    expect(escapeMrkdwn(plain)).toBe('Tom &amp; Jerry &lt;b&gt; &amp;amp;');
  });

  it("keeps Slack's own mentions and links in what people typed, and nothing else", () => {
    expect(userMrkdwn('ask <@U0BOB> & <#C0123|ops> about <https://x.example/?a=1&b=2|the graph & more> or <b>')).toBe(
      'ask <@U0BOB> &amp; <#C0123|ops> about <https://x.example/?a=1&amp;b=2|the graph &amp; more> or &lt;b&gt;',
    );
  });

  it('accepts only plain http(s) URLs within the limit', () => {
    expect(safeUrl('https://grafana.example/d?a=1&b=2')).toBe('https://grafana.example/d?a=1&b=2');
    for (const bad of ['javascript:alert(1)', 'https://x> <!channel>', 'https://x|y', 'https://a b', `https://x/${'a'.repeat(3000)}`, 'ftp://x']) {
      expect(safeUrl(bad)).toBeUndefined();
    }
    expect(link('https://x> <!channel> pwned <https://evil.example', 'source')).toBe('source');
    expect(link('https://g.example/?a=1&b=2', 'graph <1>')).toBe('<https://g.example/?a=1&amp;b=2|graph &lt;1&gt;>');
  });
});

describe('the payload rules (what the fake Slack refuses)', () => {
  it('finds oversized text, cut characters, double escaping, stray markup and bad ids', () => {
    const problems = messageProblems({
      text: 'fallback &amp;amp; <down>',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } },
        { type: 'header', text: { type: 'plain_text', text: '🔥'.repeat(10) + '\uD83D' } },
        { type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' })) },
        { type: 'actions', block_id: 'a', elements: [{ type: 'button', text: { type: 'plain_text', text: 'b' }, action_id: 'x', url: `https://x/${'a'.repeat(3000)}` }] },
        { type: 'actions', block_id: 'a', elements: [{ type: 'button', text: { type: 'mrkdwn', text: 'b' }, action_id: 'x', value: 'v'.repeat(2001) }] },
      ],
    });
    const all = problems.join('\n');
    for (const want of ['escaped twice', 'not a Slack entity', 'text is 3001 characters', 'surrogate', '11 context elements', 'url is', 'not unique', 'must be plain_text', 'button value over 2000']) {
      expect(all).toContain(want);
    }
  });

  it('finds a modal over its limits', () => {
    const problems = viewProblems({
      type: 'modal', title: { type: 'plain_text', text: 'A title longer than 24 chars' },
      blocks: [{ type: 'input', label: { type: 'plain_text', text: 'l' }, element: { type: 'plain_text_input', action_id: 'v', max_length: 100, initial_value: 'x'.repeat(101) } }],
    });
    expect(problems.join('\n')).toMatch(/title: text is 28 characters[\s\S]*initial_value is 101 characters[\s\S]*needs submit/);
  });

  it('builders cannot produce what the rules refuse', () => {
    const blocks = [
      header('🚨'.repeat(200)), section('&'.repeat(5000)), context(...Array.from({ length: 12 }, () => '<'.repeat(4000))),
      { type: 'actions' as const, block_id: 'b', elements: [button('x'.repeat(100), 'a', 'v', 'primary', `https://x/${'a'.repeat(3000)}`)] },
    ];
    expect(messageProblems({ text: 'x', blocks: blocks.map((b) => (b.type === 'section' || b.type === 'context' ? JSON.parse(JSON.stringify(b).replace(/[&<]/g, 'a')) : b)) })).toEqual([]);
    expect(() => button('b', 'a', 'v'.repeat(2001))).toThrow(/value/);
  });

  it('an alert group renders valid Slack whatever its alerts say', () => {
    const now = new Date('2026-03-09T10:00:00Z');
    const alert = (i: number) => ({
      id: i, fingerprint: `f${i}`, status: 'firing', labels: { alertname: '<!channel>', instance: `i${i}&${'🔥'.repeat(50)}` },
      annotations: { summary: '<!here> & <https://evil.example|click>', runbook_url: 'https://r.example/<x>' },
      startsAt: now, endsAt: null, lastReceivedAt: now, generatorUrl: 'https://x> <!channel> pwned <https://evil.example',
    });
    const m = alertGroupMessage({
      group: { id: 1, groupLabels: { alertname: '<!channel>' }, createdAt: now, acknowledgedBy: null, acknowledgedAt: null, silencedUntil: null, silencedBy: null } as never,
      firing: Array.from({ length: 40 }, (_, i) => alert(i)) as never, inhibited: [], resolved: [], mentions: [], maxShown: 40, now,
    });
    expect(messageProblems(m)).toEqual([]);
    expect(JSON.stringify(m)).not.toMatch(/<!channel>|<!here>|<https:\/\/evil/);
  });
});
