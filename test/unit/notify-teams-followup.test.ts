// Teams: reviewers with a Teams identity in the Directory are mentioned on the card (an <at> tag
// and its msteams entity, which must match), and a request announced here gets one follow-up
// card when it is decided, sent through the update feed from the store's decision channel.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { createNotifiers, createUpdateFeed } from '../../src/approvals/notify/index.js';
import type { ApprovalNotice } from '../../src/approvals/notify/types.js';
import type { ApprovalRecord } from '../../src/approvals/types.js';
import type { ReviewerSpec } from '../../src/policy/types.js';
import { draft } from '../support/approval-draft.js';
import { closeReceivers, startReceiver } from '../support/receiver.js';

afterEach(closeReceivers);

const spec = (id: string, displayName: string, teamsUserId?: string): ReviewerSpec => ({
  id,
  displayName,
  groups: [],
  source: { file: 'd.yaml', line: 1, column: 1 },
  ...(teamsUserId !== undefined && { teamsUserId }),
});
const ann = spec('ann', 'Ann *Analyst*', 'ann@example.com');
const bob = spec('bob', 'Bob Builder');

function notice(record: ApprovalRecord): ApprovalNotice {
  return { record, links: [ann, bob].map((reviewer) => ({ reviewer, url: `https://cs.example/approvals/${record.id}?t=tok-${reviewer.id}` })), reviewPageBaseUrl: 'https://cs.example' };
}

async function pending(store: MemoryApprovalStore): Promise<ApprovalRecord> {
  const { record } = await store.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann', 'bob'] }] }), Date.now());
  return record;
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Card = { attachments: [{ content: { body: Array<{ text?: string; facts?: Array<{ title: string; value: string }> }>; msteams: { entities?: Array<{ text: string; mentioned: { id: string; name: string } }> } } }] };

describe('Teams mentions and follow-up card', () => {
  it('mentions the reviewers the Directory gives a Teams identity, with entities that match the text', async () => {
    const receiver = await startReceiver();
    const [teams] = createNotifiers({ teamsWebhookUrl: `${receiver.base}/t`, attempts: 1 });
    const store = new MemoryApprovalStore();
    await teams?.send(notice(await pending(store)));
    const card = JSON.parse(receiver.requests[0]?.body ?? '{}') as Card;
    const content = card.attachments[0].content;
    const reviewers = content.body.at(-1)?.text ?? '';
    expect(reviewers).toBe('**Reviewers:** <at>Ann Analyst</at>, Bob Builder');
    expect(content.msteams.entities).toEqual([{ type: 'mention', text: '<at>Ann Analyst</at>', mentioned: { id: 'ann@example.com', name: 'Ann Analyst' } }]);
  });

  it('posts one follow-up card when the request is decided, none for a request another replica announced', async () => {
    const receiver = await startReceiver();
    const notifiers = createNotifiers({ teamsWebhookUrl: `${receiver.base}/t`, attempts: 1 });
    const store = new MemoryApprovalStore();
    const feed = createUpdateFeed({ store, notifiers, onFailure: () => undefined });
    store.onDecision((event) => feed.decided(event));
    const mine = await pending(store);
    const theirs = await pending(store);
    await notifiers[0]?.send(notice(mine));
    expect(receiver.requests).toHaveLength(1);
    await store.review(theirs.id, 'bob', 'deny', 'no', Date.now());
    await store.review(mine.id, 'ann', 'approve', 'ok for the quarter', Date.now());
    await until(() => receiver.requests.length >= 2);
    feed.decided({ id: mine.id, status: 'approved' }); // a second decision event changes nothing
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.requests).toHaveLength(2);
    const followUp = JSON.parse(receiver.requests[1]?.body ?? '{}') as Card;
    const body = followUp.attachments[0].content.body;
    expect(body[0]?.text).toBe('Approved: GetObject by bot');
    expect(body[1]?.facts?.find((f) => f.title === 'Reviews')?.value).toMatch(/^Ann \\\*Analyst\\\* approved at \d{4}-\d\d-\d\d \d\d:\d\d UTC: ok for the quarter$/);
    feed.close();
  });
});
