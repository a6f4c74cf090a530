// Agent-controlled text in the Slack app's messages (issue 14): the agent picks its stated
// reason and the S3 key, so either may carry mentions (<!channel>, <!here>, <@U…>), disguised
// links (<http://evil|click>) or mrkdwn. Every message the app posts or updates, the thread
// replies and the Deny modal must show that text inert: the only live mentions are the
// reviewers' own, built from the Directory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/approvals/slack/message.js';
import { putObject, SLACK, startSlackRig, type SlackRig } from '../support/slack-rig.js';

const HOSTILE = '<!channel> <!here> <@U0BOB0001> <!subteam^S0ADMINS> <#C0SECRET> <http://evil.example|click to approve> *urgent* &lt;';
const HOSTILE_KEY = 'reports/<!everyone>/<http://evil.example|x>.csv';

let rig: SlackRig;
beforeEach(async () => {
  rig = await startSlackRig();
});
afterEach(async () => {
  await rig?.close();
});

/** Every angle-bracket token Slack would act on, anywhere in the JSON we sent. */
function liveTokens(value: unknown): string[] {
  return [...JSON.stringify(value).matchAll(/<([!@#][^>]*|https?:[^>]*)>/g)].map((m) => m[0]);
}

/** Live tokens we put there ourselves: reviewer mentions from the Directory and Slack date tokens. */
const OURS = new Set([`<@${SLACK.ann}>`, `<@${SLACK.bob}>`]);
const isOurs = (token: string): boolean => OURS.has(token) || token.startsWith('<!date^');

describe('agent text in Slack app messages', () => {
  it('mentions only the eligible reviewers; the reason and S3 key stay inert in the posted message', async () => {
    const { ts } = await rig.hold(putObject(HOSTILE_KEY, HOSTILE));
    const posted = rig.standin.calls.find((c) => c.method === 'chat.postMessage' && c.body.thread_ts === undefined);
    expect(posted).toBeDefined();
    expect(liveTokens(posted?.body).filter((t) => !isOurs(t))).toEqual([]);
    expect(liveTokens(posted?.body)).toEqual(expect.arrayContaining([`<@${SLACK.ann}>`, `<@${SLACK.bob}>`]));
    expect(JSON.stringify(posted?.body)).not.toContain(`<@${SLACK.olga}>`); // the owner is not asked
    const text = JSON.stringify(rig.standin.message(ts)?.blocks);
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('&lt;http://evil.example|click to approve&gt;');
    expect(text).toContain('&amp;lt;'); // an entity typed by the agent shows as typed
  });

  it('keeps it inert in the Deny modal, the updated message and the thread reply, and in the denial comment', async () => {
    const { ts } = await rig.hold(putObject(HOSTILE_KEY, HOSTILE));
    await rig.standin.click(ts, DENY_ACTION, SLACK.ann);
    const view = rig.standin.lastView();
    expect(view).toBeDefined();
    expect(liveTokens(view?.view)).toEqual([]);
    expect(JSON.stringify(view?.view)).toContain('&lt;!channel&gt;');
    await rig.standin.submit(view?.id ?? '', SLACK.ann, `no <!channel> <@${SLACK.bob}> <http://evil.example|x>`);
    await rig.standin.waitForCall((c) => c.method === 'chat.postMessage' && c.body.thread_ts === ts);
    await rig.standin.waitForCall((c) => c.method === 'chat.update' && JSON.stringify(c.body).includes('Denied'));
    for (const call of rig.standin.calls.filter((c) => c.method === 'chat.update' || c.body.thread_ts === ts)) {
      expect(liveTokens(call.body).filter((t) => !isOurs(t))).toEqual([]);
    }
  });

  it('refuses no one for their text: a hostile reason is still approved by a click, inert in every update', async () => {
    const { record, ts } = await rig.hold(putObject(HOSTILE_KEY, HOSTILE));
    await rig.standin.click(ts, APPROVE_ACTION, SLACK.bob);
    await rig.standin.waitForCall((c) => c.method === 'chat.update' && JSON.stringify(c.body).includes('Approved'));
    expect((await rig.record(record.id)).status).toBe('approved');
    for (const call of rig.standin.calls.filter((c) => c.method === 'chat.update')) expect(liveTokens(call.body).filter((t) => !isOurs(t))).toEqual([]);
  });
});
