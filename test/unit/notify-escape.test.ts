import { describe, expect, it } from 'vitest';
import { clean, escapedList, escapeSlack, escapeTeams, fitEscaped, formatUtc, oneLine, truncate } from '../../src/approvals/notify/escape.js';

describe('escapeSlack', () => {
  it('turns &, < and > into entities so mentions and links are inert', () => {
    expect(escapeSlack('<!channel> <!here> <@U123> <#C1> <!subteam^S1> <http://evil.example|click> a & b')).toBe(
      '&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;#C1&gt; &lt;!subteam^S1&gt; &lt;http://evil.example|click&gt; a &amp; b',
    );
  });

  it('escapes an entity the agent typed, so it shows as typed', () => {
    expect(escapeSlack('&lt;!channel&gt;')).toBe('&amp;lt;!channel&amp;gt;');
  });

  it('strips nothing else', () => {
    expect(escapeSlack('@here *bold* _it_ `code` ~x~ [a](b)')).toBe('@here *bold* _it_ `code` ~x~ [a](b)');
  });
});

describe('escapeTeams', () => {
  it('renders markdown links, emphasis and code literally', () => {
    expect(escapeTeams('[click](http://evil.example) **b** _i_ `c` ~s~ \\ &amp;')).toBe(
      '\\[click\\]\\(http://evil.example\\) \\*\\*b\\*\\* \\_i\\_ \\`c\\` \\~s\\~ \\\\ \\&amp;',
    );
  });

  it('breaks <at> mention tags in any case', () => {
    const escaped = escapeTeams('<at>Boss</at> <AT id="1">x</AT>');
    expect(escaped).toBe('\\<\u2060at\\>Boss\\</\u2060at\\> \\<\u2060AT id="1"\\>x\\</\u2060AT\\>');
    expect(escaped).not.toMatch(/<\/?at/i);
  });

  it('escapes list and heading markers only at the start of a line', () => {
    expect(escapeTeams('- a\n  + b\n# c\n10. d\na - b + c # d 1. e')).toBe('\\- a\n  \\+ b\n\\# c\n10\\. d\na - b + c # d 1. e');
  });

  it('breaks {{ so card date functions do not run', () => {
    expect(escapeTeams('{{DATE(2017-02-14T06:08:39Z)}}')).toBe('{\u2060{DATE\\(2017-02-14T06:08:39Z\\)}}');
  });
});

describe('clean and oneLine', () => {
  it('replaces controls and bidi overrides visibly, keeps tabs and newlines', () => {
    expect(clean('a\u202eb\u2066c\u0000d\u001be\tf\r\ng\rh')).toBe('a\ufffdb\ufffdc\ufffdd\ufffde\tf\ng\nh');
  });

  it('puts a name on one line', () => {
    expect(oneLine('  bucket/x\n*Region*\r\n us-west-2 \u202e ')).toBe('bucket/x *Region* us-west-2 \ufffd');
  });
});

describe('truncate', () => {
  it('cuts with an ellipsis within the limit', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdefg', 6)).toBe('abcde…');
    expect(truncate('abcdefg', 6)).toHaveLength(6);
    expect(truncate('abc', 0)).toBe('');
  });

  it('never splits a surrogate pair', () => {
    const cut = truncate('ab😀😀😀', 4);
    expect(cut).toBe('ab…');
    expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(truncate('ab😀c', 4)).toBe('ab…');
    expect(truncate('a😀cd', 4)).toBe('a😀…');
  });
});

describe('fitEscaped', () => {
  it('caps the raw text, then shortens until the escaped form fits', () => {
    expect(fitEscaped('x'.repeat(600), 500, 3000, escapeSlack)).toBe(`${'x'.repeat(499)}…`);
    const fitted = fitEscaped('&'.repeat(600), 500, 1000, escapeSlack);
    expect(fitted.length).toBeLessThanOrEqual(1000);
    expect(fitted.length).toBeGreaterThan(980);
    expect(fitted.endsWith('&amp;…')).toBe(true);
    // Entities are never cut in half.
    expect(fitted.slice(0, -1)).toMatch(/^(&amp;)+$/);
  });
});

describe('escapedList', () => {
  it('lists items one per line, escaped, then "and N more"', () => {
    const items = Array.from({ length: 13 }, (_, index) => `<r${index}>`);
    expect(escapedList(items, escapeSlack, { maxEscaped: 2000, maxItems: 3 })).toBe('&lt;r0&gt;\n&lt;r1&gt;\n&lt;r2&gt;\n… and 10 more');
    expect(escapedList([], escapeSlack, { maxEscaped: 100 })).toBe('(none)');
  });

  it('stays within the escaped budget, leaving room for the tail', () => {
    const items = Array.from({ length: 10 }, () => '&'.repeat(200));
    const text = escapedList(items, escapeSlack, { maxEscaped: 2000 });
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toMatch(/\n… and 9 more$/);
  });
});

describe('formatUtc', () => {
  it('formats to the minute in UTC', () => {
    expect(formatUtc(Date.UTC(2025, 0, 31, 14, 15, 59))).toBe('2025-01-31 14:15 UTC');
  });
});
