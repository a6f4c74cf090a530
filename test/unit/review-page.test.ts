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
