// The Slack app's message through a request's life, with the real notifier, update feed and
// interactivity endpoint against the Slack stand-in: approve for a while from Slack, a review
// made on the review page updating the message and its thread, and expiry noticed without
// anyone reading the request.
import { afterEach, describe, expect, it } from 'vitest';
import { reviewApproval } from '../../src/approvals/decide.js';
import { DIALOG_FAILED } from '../../src/approvals/slack/interactivity.js';
import { APPROVE_WINDOW_ACTION, DENY_ACTION, DETAILS_ACTION } from '../../src/approvals/slack/message.js';
import { draft } from '../support/approval-draft.js';
import { putObject, SLACK, slackPolicy, startSlackRig, type SlackRig } from '../support/slack-rig.js';

let rig: SlackRig;
afterEach(async () => {
  await rig?.close();
});

describe('the Slack app message follows the request', () => {
  it('approves for a while from Slack, within the rule’s maxWindow', async () => {
    rig = await startSlackRig(slackPolicy(1, ', maxWindow: 1h'));
    const { record, ts } = await rig.hold(putObject('window.txt'));
    expect((await rig.standin.click(ts, `${APPROVE_WINDOW_ACTION}_60`, SLACK.ann)).status).toBe(200);
    const after = await rig.record(record.id);
    expect(after.status).toBe('approved');
    expect(after.reviews[0]).toMatchObject({ reviewer: 'ann', decision: 'approve', windowMinutes: 60 });
    expect(rig.audit.find((e) => e.event === 'approval.reviewed')).toMatchObject({ via: 'slack', windowMinutes: 60, accepted: true });
  });

  it('a click on the Details link button is answered 200 and decides nothing', async () => {
    rig = await startSlackRig();
    const { record, ts } = await rig.hold(putObject('details.txt'));
    expect((await rig.standin.click(ts, DETAILS_ACTION, SLACK.ann)).status).toBe(200);
    expect((await rig.record(record.id)).reviews).toEqual([]);
  });

  it('a Deny whose trigger id ran out opens no dialog, decides nothing and tells the reviewer to click again', async () => {
    rig = await startSlackRig();
    const { record, ts } = await rig.hold(putObject('late-trigger.txt'));
    rig.standin.triggerAgeMs = 4_000;
    expect((await rig.standin.click(ts, DENY_ACTION, SLACK.ann)).status).toBe(200);
    const told = await rig.standin.waitForCall((c) => c.method === 'chat.postEphemeral' && c.body.user === SLACK.ann);
    expect(told.body.text).toBe(DIALOG_FAILED);
    expect(rig.standin.calls.find((c) => c.method === 'views.open')?.ok).toBe(false);
    expect((await rig.record(record.id)).reviews).toEqual([]);
  });

  it('a review on the page (any channel) updates the message, with the quorum progress, and posts in its thread', async () => {
    rig = await startSlackRig(slackPolicy(2));
    const { record, ts } = await rig.hold(putObject('page-review.txt'));
    await reviewApproval({ store: rig.store, audit: (e) => rig.emit(e), now: () => rig.now() }, { id: record.id, reviewer: 'bob', decision: 'approve', comment: 'fine by me', via: 'page' });
    await rig.standin.waitForCall((c) => c.method === 'chat.update' && JSON.stringify(c.body).includes('1 of 2 approval(s)'));
    const reply = await rig.standin.waitForCall((c) => c.method === 'chat.postMessage' && c.body.thread_ts === ts);
    expect(reply.body.text).toContain('*Bob Builder* :white_check_mark: approved');
    expect(reply.body.text).toContain('fine by me');
    expect(JSON.stringify(rig.standin.message(ts)?.blocks)).toContain('countersign_approve'); // still pending: buttons stay
  });

  it('says Expired when the request expires undecided, without anyone reading it', async () => {
    rig = await startSlackRig();
    const { record } = await rig.store.findOrCreate(draft({ pendingTimeoutMs: 100, requirements: [{ rule: 'r', quorum: 1, eligible: ['ann', 'bob'] }] }), Date.now());
    await rig.app.notifier.send({ record, links: [], reviewPageBaseUrl: 'http://127.0.0.1:1' });
    rig.emit({ event: 'approval.requested', approvalId: record.id, expiresAt: new Date(record.expiresAt).toISOString() });
    const update = await rig.standin.waitForCall((c) => c.method === 'chat.update' && JSON.stringify(c.body).includes('*Expired*'), 5_000);
    expect(JSON.stringify(update.body.blocks)).not.toContain('countersign_approve');
  });
});
