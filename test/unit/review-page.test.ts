import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/approvals/transitions.js';
import { renderReviewPage } from '../../src/approvals/review-page.js';
import { draft } from '../support/approval-draft.js';

describe('review page', () => {
  it('shows the role and account the session will assume, and what one approval lets through', () => {
    const change = renderReviewPage(newRecord('id-1', draft({ maxUses: 2 }), 0), {}, 0);
    expect(change).toContain('<code>arn:aws:iam::123456789012:role/r</code> (account 123456789012)');
    expect(change).toContain('this exact request, 2 times');
    const read = renderReviewPage(newRecord('id-2', draft({ intent: 'read' }), 0), {}, 0);
    expect(read).toContain('this read, however many requests it takes');
  });
});

describe('review page for reviewers on a phone', () => {
  const names = new Map([['ann', 'Ann Lindqvist'], ['olga', 'Olga Petrova']]);

  it('has a viewport, shows the rule description and display names, and prints times in UTC with a <time> the script can localise', () => {
    const record = newRecord('id-3', draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann', 'bob'], description: 'For <b>reviewers</b>' }] }), Date.UTC(2026, 11, 4, 21, 5));
    const html = renderReviewPage(record, { names }, record.createdAt);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('For &#60;b&#62;reviewers&#60;/b&#62;');
    expect(html).toContain('1 of Ann Lindqvist, bob');
    expect(html).toContain('owned by Olga Petrova');
    expect(html).toContain('<time datetime="2026-12-04T21:05:00.000Z">2026-12-04 21:05 UTC+00:00</time>');
  });

  it('offers a window only where the rules allow one, never past maxWindow', () => {
    const once = renderReviewPage(newRecord('id-4', draft(), 0), { reviewer: 'ann', csrf: 'c' }, 0);
    expect(once).not.toContain('name="window"');
    const windowed = renderReviewPage(newRecord('id-5', draft({ maxWindowMs: 45 * 60_000 }), 0), { reviewer: 'ann', csrf: 'c' }, 0);
    expect([...windowed.matchAll(/<option value="(\w+)"/g)].map((m) => m[1])).toEqual(['once', '5', '15', '30', '45']);
  });

  it('shows the outcome after use: when, by which request, and what AWS answered', () => {
    const approved = { ...newRecord('id-6', draft(), 0), status: 'consumed' as const, decidedAt: 1000, approvedUntil: 60_000, consumedAt: 2000, timesUsed: 1, lastUse: { requestId: 'req-42', at: 2000, upstreamStatus: 200 } };
    const html = renderReviewPage(approved, {}, 3000);
    expect(html).toContain('Approved and used');
    expect(html).toContain('<code>req-42</code>');
    expect(html).toContain('HTTP 200');
  });
});
