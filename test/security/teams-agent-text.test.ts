// Teams markup in agent-controlled text and reviewer comments (issue 14): the agent's reason or
// a resource name carrying `<at>Boss</at>` must not mention anyone (no entity, no live tag), and
// a markdown link in a denial comment must not become a link in the follow-up card.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { buildTeamsMessage, buildTeamsOutcome } from '../../src/approvals/notify/teams.js';
import type { ReviewerSpec } from '../../src/policy/types.js';
import { draft } from '../support/approval-draft.js';
import { closeReceivers } from '../support/receiver.js';

afterEach(closeReceivers);

const ann: ReviewerSpec = { id: 'ann', displayName: 'Ann', groups: [], teamsUserId: 'ann@example.com', source: { file: 'd.yaml', line: 1, column: 1 } };

describe('Teams cards keep agent text inert', () => {
  it('a reason or resource carrying <at>Boss</at> mentions nobody; only Directory reviewers are entities', async () => {
    const store = new MemoryApprovalStore();
    const base = draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] });
    const { record } = await store.findOrCreate(
      { ...base, context: { ...base.context, agentReason: 'ping <at>Boss</at> and [click](http://evil.example)', resources: ['arn:aws:s3:::b/<at>Ann</at>'] } },
      Date.now(),
    );
    const message = buildTeamsMessage({ record, links: [{ reviewer: ann, url: 'https://cs.example/x?t=tok' }], reviewPageBaseUrl: 'https://cs.example' });
    const text = JSON.stringify(message);
    expect(message.attachments[0].content.msteams.entities?.map((e) => e.mentioned.id)).toEqual(['ann@example.com']);
    // The one live tag is ours; the agent's tags are broken with a word joiner and escaped.
    expect(text.match(/<at>/g)).toHaveLength(2); // the reviewers line and its entity
    expect(text).not.toContain('<at>Boss');
    expect(text).not.toContain('[click](');
  });

  it('a denial comment with a markdown link or mention stays text in the follow-up card', async () => {
    const store = new MemoryApprovalStore();
    const { record } = await store.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] }), Date.now());
    const denied = await store.review(record.id, 'ann', 'deny', 'see [the runbook](http://evil.example) <at>Boss</at> {{DATE(2017-02-14T06:08:39Z)}}', Date.now());
    if (!denied.ok) throw new Error(denied.reason);
    const card = JSON.stringify(buildTeamsOutcome(denied.record, new Map([['ann', 'Ann']]), 'https://cs.example/approvals/x'));
    expect(card).not.toContain('[the runbook](');
    expect(card).not.toMatch(/<at>/);
    expect(card).not.toContain('{{');
    expect(card).toContain('Denied: GetObject by bot');
  });
});
